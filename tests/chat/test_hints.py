"""Hints parsed from questions: only the obvious ones become filters."""

from decimal import Decimal

import pytest

from app.services.chat.hints import parse_hints
from app.services.chat.text import alternatives, content_words, stem, words
from app.services.chat.vocabulary import Vocabulary

VOCABULARY = Vocabulary(
    ["Nike", "The North Face", "Levi's", "On", "Under Armour", "Apple"],
    [
        ("Footwear > Running Shoes", 30),
        ("Footwear > Hiking Boots", 12),
        ("Apparel > Jackets", 25),
        ("Women > Jackets", 5),
        ("Home & Kitchen > Coffee", 9),
        ("Sale > Clearance", 50),
    ],
)


@pytest.mark.parametrize(
    ("question", "low", "high", "label"),
    [
        ("running shoes under $100", None, "100", "under $100"),
        ("jackets below 80 euros", None, "80", "under €80"),
        ("anything less than £25?", None, "25", "under £25"),
        ("boots up to 1,200 dollars", None, "1200", "under $1,200"),
        ("a tent over $300", "300", None, "over $300"),
        ("at least 50 bucks", "50", None, "over $50"),
        ("headphones between 50 and 150", "50", "150", "between 50 and 150"),
        ("speakers $150-$50", "50", "150", "between $50 and $150"),
        ("bags from 20 to 40 dollars", "20", "40", "between $20 and $40"),
        ("a jacket around $100", "80.00", "120.00", "around $100"),
        ("coffee for 19,99 €", None, None, None),  # a bare price: not obviously a limit
    ],
)
def test_price_phrasings(question: str, low: str | None, high: str | None, label: str | None):
    hints = parse_hints(question, VOCABULARY)
    assert hints.price_min == (Decimal(low) if low else None)
    assert hints.price_max == (Decimal(high) if high else None)
    assert hints.price_label == label


@pytest.mark.parametrize(
    "question",
    [
        "a tent under 2 kg",
        "a 2-3 person tent",
        "a laptop under 15 inches",
        "power bank over 20000 mah",
    ],
)
def test_numbers_with_units_are_not_prices(question: str) -> None:
    hints = parse_hints(question, VOCABULARY)
    assert hints.price_min is None and hints.price_max is None


def test_price_words_do_not_become_search_words() -> None:
    assert parse_hints("running shoes under $100", VOCABULARY).terms == ("running", "shoes")


@pytest.mark.parametrize(
    ("question", "brand", "rest"),
    [
        ("Nike running shoes", "Nike", ("running", "shoes")),
        ("north face jackets", "The North Face", ("jackets",)),
        ("the north face jackets", "The North Face", ("jackets",)),
        ("levis jeans", "Levi's", ("jeans",)),
        ("Levi\u2019s jeans", "Levi's", ("jeans",)),  # a typographic apostrophe
        ("under armour shorts under $30", "Under Armour", ("shorts",)),
        ("shoes to run on", None, ("shoes", "run")),  # brand "On" is too short to guess
    ],
)
def test_brands_of_the_catalog_are_recognised(question: str, brand: str | None, rest) -> None:
    hints = parse_hints(question, VOCABULARY)
    assert hints.brand == brand
    assert hints.terms == rest


def test_the_category_is_the_head_noun_of_the_main_phrase() -> None:
    running = parse_hints("Do you have running shoes for women?", VOCABULARY)
    assert running.category_label == "Running Shoes"
    assert running.categories == ("Footwear > Running Shoes",)
    assert running.phrase == ("running", "shoes")
    jackets = parse_hints("jackets for women", VOCABULARY)
    assert jackets.categories == ("Apparel > Jackets", "Women > Jackets")
    # "coffee" modifies "mug" here: the question is not about the Coffee category.
    assert parse_hints("an insulated coffee mug", VOCABULARY).categories == ()
    # Generic segments ("Sale") are never filters.
    assert parse_hints("sale", VOCABULARY).categories == ()


def test_stock_sort_and_greetings() -> None:
    assert parse_hints("rain jackets in stock", VOCABULARY).in_stock_only
    assert parse_hints("cheapest rain jacket", VOCABULARY).sort == "price_asc"
    assert parse_hints("most expensive tent", VOCABULARY).sort == "price_desc"
    assert parse_hints("Hello there!", VOCABULARY).greeting
    assert not parse_hints("hello, any tents?", VOCABULARY).greeting


def test_words_stems_and_synonyms() -> None:
    assert words("Men's T-Shirt, USB-C!") == ["men", "s", "t", "shirt", "usb", "c"]
    assert content_words(words("Do you have any boots for me?")) == ["boots"]
    for singular, plural in [("battery", "batteries"), ("shoe", "shoes"), ("dress", "dresses")]:
        assert plural.startswith(stem(singular)) and singular.startswith(stem(plural))
    sneakers = {term.text for term in alternatives("trainers")}
    assert {"trainer", "sneaker"} <= sneakers
    assert [(t.text, t.prefix) for t in alternatives("4")] == [("4", False)]
    assert all(not t.prefix for t in alternatives("tv") if len(t.text) < 4)
