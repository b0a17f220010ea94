"""Colour constraints (DESIGN §9): a shopper's "red hoodie", "rote Kapuzenpullover" or "sudadera
roja" shows products of that colour, from their titles, descriptions or variant options, through
full-text and semantic search alike; when the shop has none in that colour, the reply says so
and shows the nearest products in other colours."""

import asyncio
import json
import os
import re
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from app.colours import asked_colour, product_colours
from app.db.engine import create_engine
from app.db.migrate import upgrade
from app.services.chat.hints import parse_hints
from app.services.chat.vocabulary import Vocabulary
from ops import demo_shop
from ops.databases import migrated_database
from tests.catalog.conftest import fixture, upload
from tests.chat.conftest import ask, start_session
from tests.conftest import BACKENDS, MerchantKeys, new_merchant

_OTHER_COLOURS = re.compile(r" - (Black|White|Grey|Navy|Blue|Brown|Olive|Green)$")


def _titles(reply: dict[str, Any]) -> list[str]:
    return [card["title"] for card in reply["products"]]


@pytest.mark.parametrize(
    ("word", "colour"),
    [
        ("red", "red"),
        ("Rote", "red"),
        ("rouges", "red"),
        ("rojas", "red"),
        ("grey", "grey"),
        ("gray", "grey"),
        ("grauen", "grey"),
        ("navy", "blue"),
        ("bleue", "blue"),
        ("weiße", "white"),
        ("noir", "black"),
        ("verde", "green"),
        # Not colours in a question: the word is searched for instead.
        ("rot", None),  # "root rot": English decay, and German "rot" is asked inflected
        ("rose", None),
        ("olive", None),  # "olive oil"
        ("hoodie", None),
    ],
)
def test_colour_words_of_four_languages(word: str, colour: str | None) -> None:
    assert asked_colour(word) == colour


def test_a_products_colours_come_from_its_text_tags_attributes_and_variants() -> None:
    assert product_colours("T-Shirt - Olive", None, {}, []) == " green "
    assert product_colours("Tent", "Sleeps four. Color: Sand.", {}, []) == ""
    colours = product_colours(
        "Hoodie",
        "A warm hoodie.",
        {"tags": ["Rot"], "attributes": {"Farbe": "Schwarze"}},
        [{"title": "Navy / L", "options": {"Color": "Red", "Size": "L"}}],
    )
    assert colours == " black red blue "


def test_a_colour_in_a_question_is_a_filter_not_a_search_word() -> None:
    vocabulary = Vocabulary(["Black Diamond", "Nike"], [("Apparel > Hoodies", 5)])
    hints = parse_hints("rote Kapuzenpullover unter 50 €", vocabulary)
    assert hints.colours == ("red",) and "rote" not in hints.terms
    assert hints.price_max is not None
    hints = parse_hints("a black or white nike hoodie", vocabulary)
    assert hints.colours == ("black", "white") and hints.brand == "Nike"
    assert hints.terms == ("hoodie",)
    # A brand that starts with a colour stays a brand.
    hints = parse_hints("Black Diamond headlamp", vocabulary)
    assert (hints.brand, hints.colours) == ("Black Diamond", ())
    # A colour that says how something is describes the shopper's situation, not the product.
    for question in ("my lawn is turning brown", "die Blätter werden gelb"):
        hints = parse_hints(question, vocabulary)
        assert hints.colours == () and hints.terms[-1] in {"brown", "gelb"}, hints


def test_a_colour_shows_only_products_in_it(
    client: TestClient, embedded_shop: MerchantKeys
) -> None:
    session = start_session(client, embedded_shop)["id"]
    reply = ask(client, embedded_shop, session, "red hoodie")["reply"]
    titles = _titles(reply)
    assert titles[:1] == ["Nike Club Fleece Pullover Hoodie - Red"], titles
    assert not any(_OTHER_COLOURS.search(title) for title in titles), titles
    assert reply["content"] == "Here is 1 product for “hoodie” in red."
    reply = ask(client, embedded_shop, session, "grey hoodie")["reply"]
    assert _titles(reply) == ["Champion Reverse Weave Hoodie - Grey"]
    reply = ask(client, embedded_shop, session, "black t-shirt")["reply"]
    assert sorted(_titles(reply)) == [
        "Nike Dri-FIT Running T-Shirt - Black",
        "Patagonia P-6 Logo Organic Cotton T-Shirt - Black",
        "Uniqlo Supima Cotton Crew Neck T-Shirt - Black",
    ]


def test_a_colour_in_another_language_is_answered_in_it(
    client: TestClient, embedded_shop: MerchantKeys
) -> None:
    session = start_session(client, embedded_shop)["id"]
    reply = ask(client, embedded_shop, session, "Habt ihr einen roten Kapuzenpullover?")["reply"]
    assert _titles(reply)[:1] == ["Nike Club Fleece Pullover Hoodie - Red"], _titles(reply)
    assert reply["content"].startswith("Hier ") and " in Rot" in reply["content"]
    reply = ask(client, embedded_shop, session, "una camiseta azul")["reply"]
    titles = _titles(reply)
    assert "Nike Dri-FIT Running T-Shirt - Blue" in titles[:3], titles
    assert not any(title.endswith(("- Black", "- White", "- Grey")) for title in titles), titles
    assert " en azul" in reply["content"]


def test_no_product_in_that_colour_shows_the_nearest_and_says_so(
    client: TestClient, embedded_shop: MerchantKeys
) -> None:
    session = start_session(client, embedded_shop)["id"]
    reply = ask(client, embedded_shop, session, "a purple hoodie")["reply"]
    titles = _titles(reply)
    assert titles and all(re.search(r"Hood", title) for title in titles), titles
    assert reply["content"].startswith("I couldn't find that in purple"), reply["content"]
    reply = ask(client, embedded_shop, session, "un sweat à capuche violet")["reply"]
    assert _titles(reply), reply
    assert reply["content"].startswith("Je n'ai pas trouvé cela en violet"), reply["content"]


def test_a_colour_alone_lists_products_in_it(
    client: TestClient, embedded_shop: MerchantKeys
) -> None:
    white = {
        item["title"]
        for item in demo_shop.demo_catalog()
        if re.search(r"\bwhite\b", json.dumps(item).lower())
    }
    session = start_session(client, embedded_shop)["id"]
    reply = ask(client, embedded_shop, session, "anything in white?")["reply"]
    assert reply["products"] and set(_titles(reply)) <= white, _titles(reply)
    assert "in white" in reply["content"]


def test_variant_options_give_a_variable_product_its_colours(client: TestClient) -> None:
    merchant = new_merchant(client, domains=["shop.example.com"])
    run = upload(client, merchant, fixture("woocommerce_sample_products.csv"), filename="wc.csv")
    assert run["status"] == "succeeded", run
    session = start_session(client, merchant)["id"]
    # Only the variable hoodie has a green variation; its own row names no colour.
    reply = ask(client, merchant, session, "do you have a green hoodie?")["reply"]
    assert _titles(reply) == ["Hoodie"]
    reply = ask(client, merchant, session, "blue hoodie")["reply"]
    assert sorted(_titles(reply)) == ["Hoodie", "Hoodie with Logo"]  # a variation, an attribute
    reply = ask(client, merchant, session, "grey hoodie")["reply"]
    assert _titles(reply) == ["Hoodie with Zipper"]  # "in heather grey"


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_the_migration_gives_existing_products_their_colours(backend_name: str) -> None:
    base = os.environ["DATABASE_URL"] if backend_name == "postgres" else "sqlite://"
    with migrated_database(base, prefix="ragassist_colours", revision="0008") as url:
        asyncio.run(_insert_products_before_colours(url))
        upgrade(url)
        assert asyncio.run(_colours_by_id(url)) == {
            "tee": " black ",
            "hoodie": " red blue ",
            "tent": "",
        }


async def _insert_products_before_colours(url: str) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO merchants (id, name, created_at) "
                    "VALUES ('mer_1', 'Shop', CURRENT_TIMESTAMP)"
                )
            )
            variants = [{"title": "Red", "options": {"Color": "Red"}}, {"options": {"c": "Bleu"}}]
            for external_id, title, data, listed in (
                ("tee", "Tee - Black", {}, []),
                ("hoodie", "Hoodie", {"tags": ["warm"]}, variants),
                ("tent", "Tent", {}, []),
            ):
                await connection.execute(
                    text(
                        "INSERT INTO products (id, merchant_id, external_id, title, price, "
                        "currency, availability, data, variants, content_hash, created_at, "
                        "updated_at) VALUES (:id, 'mer_1', :id, :title, 10, 'USD', 'in_stock', "
                        ":data, :variants, 'x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {
                        "id": external_id,
                        "title": title,
                        "data": json.dumps(data),
                        "variants": json.dumps(listed),
                    },
                )
    finally:
        await engine.dispose()


async def _colours_by_id(url: str) -> dict[str, str]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT external_id, colours FROM products"))
            return {external_id: colours for external_id, colours in rows}
    finally:
        await engine.dispose()
