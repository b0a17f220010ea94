"""Which language a shopper wrote in, for replying in it (en, de, fr, es).

A question is short, so this counts the small words every sentence of a language is made of,
plus the letters only some languages use. The session's locale (the shopper's browser) breaks
ties and decides when the question says nothing (a bare product name: "Regenjacke").
"""

from app.services.chat.text import word_set, words

LANGUAGES = ("en", "de", "fr", "es")
DEFAULT = "en"

_WORDS = {
    "en": word_set(
        "and or for with without i im looking have has you do does any a an the is are not how"
        " what which my me need want some something gift under over cheap please your"
    ),
    "de": word_set(
        "und oder für mit ohne ich suche haben habt hast sie gibt es ein eine einen einem der"
        " die das ist sind nicht wie was welche welcher unter über bis zum zur im mein meine"
        " meinen meinem ihr etwas geschenk bitte günstig billig verkaufen"
    ),
    "fr": word_set(
        "et ou pour avec sans je cherche avez vous des une est sont pas comment quel quelle"
        " quels moins du au aux mon ma mes cadeau quelque chose vendez pas cher il y a"
    ),
    "es": word_set(
        "y o para con sin busco tienen tiene hay una los las es son no como qué cuál cuáles"
        " menos más del al mi mis regalo algo venden barato barata"
    ),
}
# Letters that mark a language, worth more than a shared little word.
_LETTERS = {"de": "äöüß", "fr": "çèêàâîôûœë", "es": "ñ¿¡áíóú"}
_LETTER_WEIGHT = 2


def detect_language(question: str, locale: str | None = None) -> str:
    """One of LANGUAGES."""
    hinted = (locale or "").replace("_", "-").split("-")[0].lower()
    scores = dict.fromkeys(LANGUAGES, 0)
    for word in words(question):
        for language, vocabulary in _WORDS.items():
            if word in vocabulary:
                scores[language] += 1
    lowered = question.lower()
    for language, letters in _LETTERS.items():
        if any(letter in lowered for letter in letters):
            scores[language] += _LETTER_WEIGHT
    best = max(scores.values())
    if best == 0:
        return hinted if hinted in LANGUAGES else DEFAULT
    leaders = [language for language in LANGUAGES if scores[language] == best]
    if hinted in leaders:
        return hinted
    return leaders[0]
