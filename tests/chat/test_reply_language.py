"""Replies in the shopper's language (en, de, fr, es): told by the question's words, with the
session's locale deciding when the question does not say (issue 11)."""

import pytest
from starlette.testclient import TestClient

from app.services.chat.language import detect_language
from tests.chat.conftest import ask, start_session
from tests.conftest import MerchantKeys


@pytest.mark.parametrize(
    ("question", "locale", "expected"),
    [
        ("Do you have waterproof hiking boots?", None, "en"),
        ("Habt ihr wasserdichte Wanderschuhe für Damen?", None, "de"),
        ("Je cherche une tente pour quatre personnes", None, "fr"),
        ("¿Tienen zapatillas para correr?", None, "es"),
        ("Quelle crème solaire avez-vous ?", "en-US", "fr"),  # the words win over the locale
        ("Regenjacke", "de-DE", "de"),  # a bare word: the locale says
        ("Regenjacke", None, "en"),
        ("Nike Pegasus 41", "es_ES", "es"),
        ("tent", "ja-JP", "en"),  # a language we do not reply in
    ],
)
def test_the_language_is_told_by_the_question_then_the_locale(
    question: str, locale: str | None, expected: str
) -> None:
    assert detect_language(question, locale) == expected


@pytest.mark.parametrize(
    ("question", "opening"),
    [
        ("Haben Sie eine Bratpfanne aus Gusseisen?", "Hier "),
        ("Je cherche une poêle en fonte", "Voici "),
        ("Busco una sartén de hierro fundido", "Aquí tienes "),
    ],
)
def test_replies_follow_the_question_and_never_list_the_cards(
    client: TestClient, embedded_shop: MerchantKeys, question: str, opening: str
) -> None:
    session = start_session(client, embedded_shop)["id"]
    reply = ask(client, embedded_shop, session, question)["reply"]
    titles = [card["title"] for card in reply["products"]]
    assert any("Cast Iron" in title or "Pan" in title for title in titles[:3]), titles
    assert reply["content"].startswith(opening), reply["content"]
    for card in reply["products"]:
        assert card["title"] not in reply["content"] and card["price"] not in reply["content"]


def test_a_price_in_the_shoppers_language_filters_and_is_said_back_in_it(
    client: TestClient, embedded_shop: MerchantKeys
) -> None:
    session = start_session(client, embedded_shop)["id"]
    reply = ask(client, embedded_shop, session, "une poêle en fonte pour moins de 50 $")["reply"]
    assert reply["products"] and all(float(c["price"]) <= 50 for c in reply["products"])
    assert "à moins de $50" in reply["content"]


def test_nothing_found_is_said_in_the_shoppers_language_with_suggestions(
    client: TestClient, shop: MerchantKeys
) -> None:
    session = start_session(client, shop, locale="de-DE")["id"]
    reply = ask(client, shop, session, "Quantenfluxkompensator")["reply"]
    assert reply["products"] == []
    assert reply["content"].startswith("Leider scheinen wir „quantenfluxkompensator“")
    assert "Jackets" in reply["content"]
