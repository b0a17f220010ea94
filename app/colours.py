"""Colours by name, in the languages shoppers ask in (en, de, fr, es).

A shopper's "rote Kapuzenpullover" and a catalog's "Hoodie - Red" or variant option
`Color: Red` must meet on one name, so both sides map their words here to a canonical colour
("red"). Shades fold into their family ("navy" is blue, "olive" green): a shopper asking for a
blue shirt is shown the navy one too.

The catalog side stores a product's colours in `products.colours` (see `product_colours`); the
question side turns colour words into a filter (chat.hints). This module sits below both and
below app.db, because migration 0009 fills the column for products imported before it. A change
to the words below needs a migration that recomputes the column, as 0009 does.

Words that are colours only sometimes are left out: "rose" (a garden's roses), "tan" (sun
cream), "cream", "rosé" (wine), "or" (French gold, English "or"), "plata" (Spanish silver, and
money). A few name a product's colour well but, in a question, more often something else
("olive oil", "khaki shorts" as a style): they count for products only (`ASKED_EXCEPT`).
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any

# German adjectives inflect (schwarz, schwarze, schwarzen, ...) and French ones take -e/-s/-es:
# their stems below get these endings. Spanish forms are spelt out.
_GERMAN = ("", "e", "en", "er", "es", "em")
_FRENCH = ("", "e", "s", "es")
# German stems whose bare form is a colour only in German: "rot" is English for decay too
# ("root rot"), so only "rote", "roten", ... count.
_INFLECTED_ONLY = frozenset({"rot"})

_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    # colour: (English words, German stems, French stems, Spanish words)
    "black": (("black",), ("schwarz",), ("noir",), ("negro", "negra", "negros", "negras")),
    "white": (
        ("white",),
        ("weiß", "weiss"),
        ("blanc", "blanche", "blanches"),
        ("blanco", "blanca", "blancos", "blancas"),
    ),
    "grey": (("grey", "gray"), ("grau",), ("gris", "grise", "grises"), ("gris", "grises")),
    "red": (("red",), ("rot",), ("rouge",), ("rojo", "roja", "rojos", "rojas")),
    "blue": (("blue", "navy"), ("blau",), ("bleu",), ("azul", "azules")),
    "green": (("green", "olive"), ("grün", "gruen"), ("vert",), ("verde", "verdes")),
    "yellow": (("yellow",), ("gelb",), ("jaune", "jaunes"), ("amarillo", "amarilla")),
    "orange": (("orange",), ("orangefarben",), ("orange", "oranges"), ("naranja", "naranjas")),
    "pink": (("pink",), ("rosa", "pink"), (), ("rosa", "rosas")),
    "purple": (
        ("purple", "violet"),
        ("lila", "violett"),
        ("violet", "violette", "violets", "violettes", "mauve"),
        ("morado", "morada", "violeta"),
    ),
    "brown": (("brown",), ("braun",), ("marron", "marrons", "brun", "brune"), ("marrón",)),
    "beige": (("beige", "khaki"), ("beige",), ("beige", "beiges"), ("beige", "caqui")),
    "silver": (("silver",), ("silber", "silbern"), ("argenté", "argentée"), ("plateado",)),
    "gold": (("gold", "golden"), ("gold", "golden"), ("doré", "dorée"), ("dorado", "dorada")),
}


def _vocabulary() -> dict[str, str]:
    words: dict[str, str] = {}
    for colour, (english, german, french, spanish) in _WORDS.items():
        forms = [
            *english,
            *(
                stem + ending
                for stem in german
                for ending in _GERMAN
                if ending or stem not in _INFLECTED_ONLY
            ),
            *(stem + ending for stem in french for ending in _FRENCH),
            *spanish,
        ]
        words.update(dict.fromkeys((form.lower() for form in forms), colour))
    return words


# Word -> canonical colour; the canonical colours in the order products list them.
COLOURS: dict[str, str] = _vocabulary()
NAMES: tuple[str, ...] = tuple(_WORDS)
ASKED_EXCEPT = frozenset({"olive", "khaki", "caqui"})
_WORD = re.compile(r"[^\W_]+")


def asked_colour(word: str) -> str | None:
    """The canonical colour a question's word asks for ("Schwarze" -> "black"), or None."""
    lowered = word.lower()
    return None if lowered in ASKED_EXCEPT else COLOURS.get(lowered)


def colours_in(texts: Iterable[str | None]) -> list[str]:
    """The colours named in `texts`, each once, in canonical order."""
    found = {
        colour
        for text in texts
        if text
        for word in _WORD.findall(text.lower())
        if (colour := COLOURS.get(word)) is not None
    }
    return [colour for colour in NAMES if colour in found]


def stored(colours: Iterable[str]) -> str:
    """`products.colours` as stored: " black red " (padded, so that one colour is found with
    LIKE '% red %' whatever its neighbours); "" when the text names none."""
    listed = " ".join(colours)
    return f" {listed} " if listed else ""


def pattern(colour: str) -> str:
    """The LIKE pattern that finds `colour` in a stored `products.colours`."""
    return f"% {colour} %"


def product_colours(
    title: str,
    description: str | None,
    data: Mapping[str, Any],
    variants: Iterable[Mapping[str, Any]],
) -> str:
    """`products.colours` for a product: the colours of its title, description, tags,
    attributes and variants (their titles and option values: `Color: Red`)."""
    texts: list[str | None] = [title, description]
    tags = data.get("tags")
    if isinstance(tags, list):
        texts += [tag for tag in tags if isinstance(tag, str)]
    attributes = data.get("attributes")
    if isinstance(attributes, dict):
        texts += [value for value in attributes.values() if isinstance(value, str)]
    for variant in variants:
        texts.append(variant.get("title"))
        options = variant.get("options")
        if isinstance(options, dict):
            texts += [value for value in options.values() if isinstance(value, str)]
    return stored(colours_in(texts))
