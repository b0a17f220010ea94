"""Retrieval quality: labelled shopper questions over a catalog we wrote, scored hit@3 (the
same figure `invoke bench` prints), on each backend's full-text index."""

from starlette.testclient import TestClient

from ops import demo_shop
from ops.bench.chat import HIT_TARGET
from ops.bench.retrieval import Quality, measure
from tests.chat.conftest import with_catalog


def test_the_labelled_set_is_big_enough_to_mean_something() -> None:
    catalog = demo_shop.demo_catalog()
    questions = demo_shop.labelled_questions()
    assert len(catalog) >= 200
    assert len(questions) >= 30
    ids = {product["id"] for product in catalog}
    assert len(ids) == len(catalog)
    for item in questions:
        assert item["relevant"], item["question"]
        assert set(item["relevant"]) <= ids, item["question"]
        # A question answered by most of the catalog would test nothing.
        assert len(item["relevant"]) <= 20, item["question"]


def test_hit_at_3_holds_at_or_above_the_target(client: TestClient) -> None:
    keys = with_catalog(client)
    sessions = client.app.state.platform.sessions  # type: ignore[attr-defined]

    async def score() -> Quality:
        questions = tuple(demo_shop.labelled_questions())
        return await measure(sessions, keys.id, questions, semantic=None)

    quality = client.portal.call(score)  # type: ignore[union-attr]
    print(f"hit@3 = {quality.rate():.3f}; missed: {quality.misses}")
    assert quality.rate() >= HIT_TARGET, quality.misses
