"""Hybrid retrieval through the chat API, over the demo catalog embedded as the worker does
it: other words, other languages, things the shop does not sell, and who sees whose
products (issue 11)."""

import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from app.db.migrate import upgrade
from app.settings import normalize_database_url
from ops import demo_shop
from tests.chat.conftest import SHOP, ask, embed_catalog, start_session
from tests.conftest import MerchantKeys, new_merchant


def _titles(reply: dict[str, Any]) -> list[str]:
    return [card["title"] for card in reply["products"]]


def test_everyday_words_find_what_the_catalog_calls_otherwise(
    client: TestClient, embedded_shop: MerchantKeys
) -> None:
    session = start_session(client, embedded_shop)["id"]
    # The catalog says "Rain Jacket", never "raincoat".
    reply = ask(client, embedded_shop, session, "I need a raincoat")["reply"]
    assert any("Rain Jacket" in title for title in _titles(reply)[:3]), _titles(reply)


def test_a_german_question_finds_english_products_and_is_answered_in_german(
    client: TestClient, embedded_shop: MerchantKeys
) -> None:
    session = start_session(client, embedded_shop)["id"]
    reply = ask(client, embedded_shop, session, "Ich suche wasserdichte Wanderschuhe")["reply"]
    assert any("Hiking Boot" in title for title in _titles(reply)[:3]), _titles(reply)
    assert reply["content"].startswith("Hier ")


def test_something_the_shop_does_not_sell_shows_nothing_and_says_what_it_carries(
    client: TestClient, embedded_shop: MerchantKeys
) -> None:
    session = start_session(client, embedded_shop)["id"]
    for question in ("Do you sell golf clubs?", "I need a baby stroller", "¿tienen lavadoras?"):
        reply = ask(client, embedded_shop, session, question)["reply"]
        assert reply["products"] == [], (question, _titles(reply))
    assert "lavadoras" in reply["content"] and "Lo siento" in reply["content"]
    reply = ask(client, embedded_shop, session, "Do you sell golf clubs?")["reply"]
    assert "don't seem to carry" in reply["content"]
    assert "Jackets" in reply["content"]  # what it does carry: its popular categories


def test_a_price_alone_lists_products_within_it(
    client: TestClient, embedded_shop: MerchantKeys
) -> None:
    session = start_session(client, embedded_shop)["id"]
    reply = ask(client, embedded_shop, session, "anything under $20?")["reply"]
    assert reply["products"]
    assert all(Decimal(card["price"]) <= 20 for card in reply["products"])
    assert "under $20" in reply["content"]


def test_a_product_without_a_vector_yet_is_still_found_by_its_words(
    client: TestClient, embedded_shop: MerchantKeys
) -> None:
    sessions = client.app.state.platform.sessions  # type: ignore[attr-defined]
    merchant = new_merchant(client, domains=["shop.example.com"])
    item = {
        **demo_shop.demo_catalog()[0],
        "id": "NEW-1",
        "title": "Zorblax Trekking Pole",
        "brand": "Zorblax",
        "category": "Outdoor > Hiking Poles",
        "description": "Adjustable aluminium walking pole for hiking, with a cork grip.",
        "tags": ["hiking", "poles"],
    }

    async def add() -> int:
        return await demo_shop.seed_catalog(sessions, merchant.id, [item], SHOP)

    client.portal.call(add)  # type: ignore[union-attr]
    session = start_session(client, merchant)["id"]
    reply = ask(client, merchant, session, "zorblax trekking pole")["reply"]
    assert _titles(reply) == ["Zorblax Trekking Pole"]
    # Once the worker embedded it, it is found by meaning too (the process's matrix follows).
    embed_catalog(client, merchant.id)
    reply = ask(client, merchant, session, "un bâton de randonnée")["reply"]  # French
    assert _titles(reply) == ["Zorblax Trekking Pole"]
    assert reply["content"].startswith("Voici 1 produit")


def test_a_merchant_never_sees_another_merchants_products(
    client: TestClient, embedded_shop: MerchantKeys
) -> None:
    sessions = client.app.state.platform.sessions  # type: ignore[attr-defined]
    other = new_merchant(client, domains=["shop.example.com"])
    mug = next(p for p in demo_shop.demo_catalog() if p["id"] == "SKU-1201")

    async def add() -> int:
        return await demo_shop.seed_catalog(sessions, other.id, [mug], SHOP)

    client.portal.call(add)  # type: ignore[union-attr]
    embed_catalog(client, other.id)
    session = start_session(client, other)["id"]
    # The first shop sells hiking boots; this one does not, however the question is put.
    for question in ("waterproof hiking boots", "wasserdichte Wanderschuhe", "Salomon"):
        reply = ask(client, other, session, question)["reply"]
        assert set(_titles(reply)) <= {mug["title"]}, (question, _titles(reply))
    assert _titles(ask(client, other, session, "a mug for coffee")["reply"]) == [mug["title"]]
    # And the first shop's answers do not include the second's (identical) product twice.
    first = start_session(client, embedded_shop)["id"]
    cards = ask(client, embedded_shop, first, "Yeti Rambler mug")["reply"]["products"]
    assert len({card["id"] for card in cards}) == len(cards)
    assert all(card["url"].startswith(SHOP) for card in cards)


def test_part_of_a_product_name_finds_it_whatever_the_model_makes_of_the_words(
    client: TestClient, embedded_shop: MerchantKeys
) -> None:
    # Each of these is in a title word for word, but means little (or something else) to the
    # embedding model: "black hole" is astronomy, "Ticket to" a phrase.
    session = start_session(client, embedded_shop)["id"]
    for question, title in (
        ("Bambino Plus", "Breville Bambino Plus Espresso Machine"),
        ("Fibrox Pro", "Victorinox Fibrox Pro 8-Inch Chef's Knife"),
        ("Rambler 14", "Yeti Rambler 14 oz Mug"),
        ("Black Hole duffel", "Patagonia Black Hole Duffel 55L"),
        ("Ticket to Ride", "Days of Wonder Ticket to Ride Board Game"),
    ):
        reply = ask(client, embedded_shop, session, question)["reply"]
        assert _titles(reply)[:1] == [title], (question, _titles(reply))


def test_the_api_reads_the_builtin_model_at_start_up_not_in_the_first_question(
    tmp_path: Path,
) -> None:
    # In a process of its own: the model is read once per process, and this one has not yet.
    url = normalize_database_url(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(url)
    program = (
        "from starlette.testclient import TestClient\n"
        "from app.main import create_app\n"
        "from app.services.chat.embeddings import UniversalSentenceEncoder as Model\n"
        "from app.settings import load_settings\n"
        f"app = create_app(load_settings(DATABASE_URL={url!r}, REDIS_URL=''))\n"
        "assert Model._model is None\n"
        "with TestClient(app):\n"
        "    print('loaded' if Model._model is not None else 'not loaded')\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=False
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.strip().splitlines()[-1] == "loaded"
