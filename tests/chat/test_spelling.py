"""Misspelt questions corrected towards the merchant's catalog words (issue 11). The typos
here are not in the labelled set: they check the mechanism, not a tuned list."""

from typing import Any

from starlette.testclient import TestClient

from app.services.chat.spelling import Speller, catalog_words
from ops import demo_shop
from tests.chat.conftest import ask, start_session
from tests.conftest import MerchantKeys


def _demo_speller() -> Speller:
    catalog = demo_shop.demo_catalog()
    return Speller(
        catalog_words(
            [item["title"] for item in catalog]
            + [item.get("brand") or "" for item in catalog]
            + [item.get("category") or "" for item in catalog]
        )
    )


def test_typos_are_corrected_to_the_catalogs_words() -> None:
    speller = _demo_speller()
    assert speller.correct("portabel speakr") == "portable speaker"  # a swap, a missing letter
    assert speller.correct("Sleping bag for winter") == "sleeping bag for winter"
    assert speller.correct("water botle, 1 litre") == "water bottle, 1 litre"
    assert speller.correct("a backpak") == "a backpack"


def test_everyday_words_names_and_other_languages_are_left_alone() -> None:
    speller = _demo_speller()
    for question in (
        "something warm for the night",  # "warm", "night" are close to catalog words
        "Ich suche einen warmen Schlafsack für meinen Vater",
        "une tente pour camper en famille",
        "do you sell swimming pools?",
        "a chainsaw",  # nothing of the kind in the catalog: no neighbour either
        "headphones",
        "hoodies",  # a plural the full-text search finds as it is
        "zx9",  # digits are never corrected
    ):
        assert speller.correct(question) == question


def test_a_catalog_without_words_corrects_nothing() -> None:
    assert Speller(catalog_words([])).correct("blutooth speeker") == "blutooth speeker"


def _titles(reply: dict[str, Any]) -> list[str]:
    return [card["title"] for card in reply["products"]]


def test_a_misspelt_question_finds_the_product_without_vectors(
    client: TestClient, shop: MerchantKeys
) -> None:
    # No embeddings for this merchant: the full-text search alone, on the corrected words.
    session = start_session(client, shop)["id"]
    reply = ask(client, shop, session, "portabel speakr")["reply"]
    assert reply["products"] and all("Speaker" in title for title in _titles(reply)[:3])


def test_a_misspelt_question_finds_the_product_with_hybrid_retrieval(
    client: TestClient, embedded_shop: MerchantKeys
) -> None:
    session = start_session(client, embedded_shop)["id"]
    reply = ask(client, embedded_shop, session, "sleping bag")["reply"]
    assert any("Sleeping Bag" in title for title in _titles(reply)[:3]), _titles(reply)
