"""Asking questions: retrieval over the merchant's catalog, the extractive answer, product
cards, hints, and the streamed reply (DESIGN §9)."""

from decimal import Decimal

from starlette.testclient import TestClient

from tests.chat.conftest import ask, ask_streaming, start_session, with_catalog
from tests.conftest import MerchantKeys

CARD_FIELDS = {"id", "title", "price", "currency", "url", "imageUrl", "availability", "brand"}
CARD_FIELDS |= {"maxPrice", "options", "variants"}  # a product's variants as its options


def test_reply_says_what_was_found_and_the_cards_carry_the_products(
    client: TestClient, shop: MerchantKeys
) -> None:
    session = start_session(client, shop)
    exchange = ask(client, shop, session["id"], "Do you have a cast iron skillet?")
    question, reply = exchange["message"], exchange["reply"]
    assert question["role"] == "user" and question["content"] == "Do you have a cast iron skillet?"
    assert question["id"] < reply["id"]
    assert reply["role"] == "assistant" and reply["provider"] == "extractive"
    cards = reply["products"]
    assert 1 <= len(cards) <= 4
    assert set(cards[0]) == CARD_FIELDS
    assert cards[0]["title"] == "Lodge 10.25 Inch Cast Iron Skillet"
    assert cards[0]["price"] == "24.90" and cards[0]["currency"] == "USD"
    assert cards[0]["url"].startswith("https://shop.example.com/products/")
    assert cards[0]["id"].startswith("prd_")
    # The text says what was looked for; the cards carry the products, and the text does not
    # repeat them as a list.
    assert "cast iron skillet" in reply["content"]
    for card in cards:
        assert card["title"] not in reply["content"]
        assert card["price"] not in reply["content"]


def test_in_stock_products_come_first(client: TestClient, shop: MerchantKeys) -> None:
    session = start_session(client, shop)
    cards = ask(client, shop, session["id"], "hiking boots")["reply"]["products"]
    tiers = [
        {"in_stock": 0, "backorder": 1, "preorder": 1}.get(c["availability"], 2) for c in cards
    ]
    assert tiers == sorted(tiers)
    assert tiers[0] == 0


def test_price_brand_and_stock_hints_filter_the_cards(
    client: TestClient, shop: MerchantKeys
) -> None:
    session = start_session(client, shop)["id"]
    cheap = ask(client, shop, session, "running shoes under $100")["reply"]
    assert cheap["products"] and all(Decimal(c["price"]) <= 100 for c in cheap["products"])
    assert "under $100" in cheap["content"]

    ranged = ask(client, shop, session, "headphones between 50 and 150 dollars")["reply"]
    assert ranged["products"]
    assert all(50 <= Decimal(c["price"]) <= 150 for c in ranged["products"])

    nike = ask(client, shop, session, "Nike shoes for women")["reply"]
    assert nike["products"] and all(c["brand"] == "Nike" for c in nike["products"])
    assert "from Nike" in nike["content"]

    in_stock = ask(client, shop, session, "rain jackets in stock")["reply"]
    assert in_stock["products"]
    assert all(c["availability"] == "in_stock" for c in in_stock["products"])

    cheapest = ask(client, shop, session, "cheapest sleeping bag")["reply"]["products"]
    assert cheapest[0]["title"] == "Coleman Brazos Cold Weather Sleeping Bag"


def test_brand_without_a_match_is_said_and_similar_products_offered(
    client: TestClient, shop: MerchantKeys
) -> None:
    session = start_session(client, shop)
    reply = ask(client, shop, session["id"], "Patagonia hiking boots")["reply"]
    assert "couldn't find that from Patagonia" in reply["content"]
    assert reply["products"] and all("Boot" in c["title"] for c in reply["products"][:2])


def test_no_match_is_said_honestly_with_suggestions(client: TestClient, shop: MerchantKeys) -> None:
    session = start_session(client, shop)
    reply = ask(client, shop, session["id"], "Do you sell quantum flux capacitors?")["reply"]
    assert reply["products"] == []
    assert "don't seem to carry" in reply["content"]
    assert "quantum flux capacitors" in reply["content"]
    assert "Jackets" in reply["content"]  # a popular category of this catalog, to ask about


def test_a_greeting_gets_a_greeting(client: TestClient, shop: MerchantKeys) -> None:
    session = start_session(client, shop)
    reply = ask(client, shop, session["id"], "Hello!")["reply"]
    assert reply["content"].startswith("Hi!")
    assert reply["products"] == []


def test_an_empty_catalog_answers_without_error(client: TestClient) -> None:
    from tests.conftest import new_merchant

    empty = new_merchant(client, domains=["shop.example.com"])
    session = start_session(client, empty)
    reply = ask(client, empty, session["id"], "tents")["reply"]
    assert reply["products"] == []
    assert "don't seem to carry" in reply["content"]


def test_streamed_reply_arrives_piece_by_piece_and_is_stored(
    client: TestClient, shop: MerchantKeys
) -> None:
    session = start_session(client, shop)
    events = ask_streaming(client, shop, session["id"], "insulated water bottle")
    names = [name for name, _ in events]
    assert names[:2] == ["message", "products"]
    assert names[-1] == "done"
    deltas = [data["text"] for name, data in events if name == "delta"]
    assert len(deltas) > 5  # word by word, not one blob
    assert set(names[2:-1]) == {"delta"}
    question = events[0][1]["message"]
    reply = events[-1][1]["reply"]
    assert question["content"] == "insulated water bottle"
    assert "".join(deltas) == reply["content"]
    assert events[1][1]["products"] == reply["products"]
    assert reply["products"][0]["title"].startswith("Hydro Flask")
    history = client.get(
        f"/api/chat/sessions/{session['id']}/messages", headers=shop.widget_auth
    ).json()["data"]["items"]
    assert [m["id"] for m in history] == [question["id"], reply["id"]]


def test_merchants_only_ever_see_their_own_catalog(client: TestClient) -> None:
    first = with_catalog(client)
    other = with_catalog(client)
    session = start_session(client, first)
    cards = ask(client, first, session["id"], "french press")["reply"]["products"]
    assert cards
    theirs = start_session(client, other)
    other_cards = ask(client, other, theirs["id"], "french press")["reply"]["products"]
    assert {c["id"] for c in cards}.isdisjoint({c["id"] for c in other_cards})
