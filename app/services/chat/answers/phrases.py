"""The extractive reply's sentences in each language it answers in (see `language`).

Replies are short: the product cards under them carry names, prices, stock and links, so the
text says what was looked for and how (filters, order), never a list the cards repeat.
"""

from dataclasses import dataclass

from app.colours import NAMES


@dataclass(frozen=True, slots=True)
class Phrases:
    found_one: str  # {what}: " for “…”" or ""; {filters}: " under $50" ...
    found_many: str  # {count}
    brand_relaxed: str  # {brand}
    colour_relaxed: str  # {colour}
    terms_relaxed: str
    none_in_stock: str
    not_carried: str  # {question}
    nothing_matches: str  # when the question had no words to echo (filters only)
    suggest: str  # {categories}
    suggest_example: str  # {example}
    greeting: str  # {shop}, {example}
    what: str  # {phrase}
    brand: str
    colour: str  # {colour}
    colour_names: dict[str, str]  # app.colours' canonical names, in this language
    under: str
    over: str
    around: str
    between: str  # {low}, {high}
    in_stock: str
    cheapest_first: str
    dearest_first: str
    example: str


def _named(names: str) -> dict[str, str]:
    """app.colours' canonical colours with their names in a language, in the same order."""
    return dict(zip(NAMES, names.split(), strict=True))


PHRASES = {
    "en": Phrases(
        found_one="Here is 1 product{what}{filters}.",
        found_many="Here are {count} products{what}{filters}.",
        brand_relaxed="I couldn't find that from {brand}, but these are similar{filters}.",
        colour_relaxed="I couldn't find that in {colour}, but these are similar{filters}.",
        terms_relaxed="I couldn't find an exact match, but you might like these{filters}.",
        none_in_stock="None of them is in stock right now, so check back soon.",
        not_carried="Sorry, we don't seem to carry “{question}”{filters}.",
        nothing_matches="Sorry, I couldn't find any products{filters}.",
        suggest="We carry things like {categories}; try asking about one of those.",
        suggest_example="Try a product type, a brand or a price range, like “{example}”.",
        greeting="Hi! I'm the {shop} shopping assistant. Ask me about our products "
        "— for example “{example}”.",
        what=" for “{phrase}”",
        brand=" from {brand}",
        colour=" in {colour}",
        colour_names={colour: colour for colour in NAMES},
        under=" under {amount}",
        over=" over {amount}",
        around=" around {amount}",
        between=" between {low} and {high}",
        in_stock=" that are in stock",
        cheapest_first=", cheapest first",
        dearest_first=", most expensive first",
        example="rain jackets under $100",
    ),
    "de": Phrases(
        found_one="Hier ist 1 Produkt{what}{filters}.",
        found_many="Hier sind {count} Produkte{what}{filters}.",
        brand_relaxed="Von {brand} habe ich das nicht gefunden, aber diese sind ähnlich{filters}.",
        colour_relaxed="In {colour} habe ich das nicht gefunden, aber diese sind ähnlich{filters}.",
        terms_relaxed="Genau das habe ich nicht gefunden, aber diese könnten passen{filters}.",
        none_in_stock="Keines davon ist gerade auf Lager; schauen Sie bald wieder vorbei.",
        not_carried="Leider scheinen wir „{question}“{filters} nicht zu führen.",
        nothing_matches="Leider habe ich keine Produkte{filters} gefunden.",
        suggest="Wir führen zum Beispiel {categories}; fragen Sie gern danach.",
        suggest_example="Fragen Sie nach einer Produktart, einer Marke oder einem Preis, "
        "etwa „{example}“.",
        greeting="Hallo! Ich bin der Einkaufsassistent von {shop}. Fragen Sie mich nach "
        "unseren Produkten, zum Beispiel „{example}“.",
        what=" zu „{phrase}“",
        brand=" von {brand}",
        colour=" in {colour}",
        colour_names=_named(
            "Schwarz Weiß Grau Rot Blau Grün Gelb Orange Rosa Lila Braun Beige Silber Gold"
        ),
        under=" unter {amount}",
        over=" über {amount}",
        around=" um {amount}",
        between=" zwischen {low} und {high}",
        in_stock=", die auf Lager sind",
        cheapest_first=", die günstigsten zuerst",
        dearest_first=", die teuersten zuerst",
        example="Regenjacken unter 100 $",
    ),
    "fr": Phrases(
        found_one="Voici 1 produit{what}{filters}.",
        found_many="Voici {count} produits{what}{filters}.",
        brand_relaxed="Je n'ai pas trouvé cela chez {brand}, mais voici des produits "
        "similaires{filters}.",
        colour_relaxed="Je n'ai pas trouvé cela en {colour}, mais voici des produits "
        "similaires{filters}.",
        terms_relaxed="Je n'ai pas trouvé exactement cela, mais ceci pourrait vous "
        "plaire{filters}.",
        none_in_stock="Aucun n'est en stock pour le moment ; revenez bientôt.",
        not_carried="Désolé, nous ne semblons pas proposer « {question} »{filters}.",
        nothing_matches="Désolé, je n'ai trouvé aucun produit{filters}.",
        suggest="Nous proposons par exemple {categories} ; posez-moi une question à ce sujet.",
        suggest_example="Essayez un type de produit, une marque ou un prix, comme « {example} ».",
        greeting="Bonjour ! Je suis l'assistant d'achat de {shop}. Posez-moi vos questions "
        "sur nos produits, par exemple « {example} ».",
        what=" pour « {phrase} »",
        brand=" de {brand}",
        colour=" en {colour}",
        colour_names=_named(
            "noir blanc gris rouge bleu vert jaune orange rose violet marron beige argent or"
        ),
        under=" à moins de {amount}",
        over=" à plus de {amount}",
        around=" à environ {amount}",
        between=" entre {low} et {high}",
        in_stock=" en stock",
        cheapest_first=", les moins chers d'abord",
        dearest_first=", les plus chers d'abord",
        example="vestes de pluie à moins de 100 $",
    ),
    "es": Phrases(
        found_one="Aquí tienes 1 producto{what}{filters}.",
        found_many="Aquí tienes {count} productos{what}{filters}.",
        brand_relaxed="No encontré eso de {brand}, pero estos son parecidos{filters}.",
        colour_relaxed="No encontré eso en {colour}, pero estos son parecidos{filters}.",
        terms_relaxed="No encontré exactamente eso, pero quizá te gusten estos{filters}.",
        none_in_stock="Ninguno está en stock ahora mismo; vuelve a mirar pronto.",
        not_carried="Lo siento, parece que no tenemos «{question}»{filters}.",
        nothing_matches="Lo siento, no encontré ningún producto{filters}.",
        suggest="Tenemos, por ejemplo, {categories}; pregúntame por alguno de ellos.",
        suggest_example="Prueba con un tipo de producto, una marca o un precio, como «{example}».",
        greeting="¡Hola! Soy el asistente de compras de {shop}. Pregúntame por nuestros "
        "productos, por ejemplo «{example}».",
        what=" para «{phrase}»",
        brand=" de {brand}",
        colour=" en {colour}",
        colour_names=_named(
            "negro blanco gris rojo azul verde amarillo naranja rosa morado marrón "
            "beige plateado dorado"
        ),
        under=" por menos de {amount}",
        over=" por más de {amount}",
        around=" por unos {amount}",
        between=" entre {low} y {high}",
        in_stock=" en stock",
        cheapest_first=", los más baratos primero",
        dearest_first=", los más caros primero",
        example="chaquetas de lluvia por menos de 100 $",
    ),
}
