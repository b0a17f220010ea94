"""Retrieval quality on our own labelled set (tests/chat/quality/, written before tuning):
170 shopper questions over two catalogs (the demo shop, and a Shopify export of a garden
shop) in seven kinds, scored as `invoke bench` scores them: hit@3, and for questions about
things the shop does not sell, nothing shown. The floors sit a little under what the current
retrieval reaches, so that a real regression fails here (the targets are in the bench)."""

import json

from starlette.testclient import TestClient

from app.services.chat.embeddings import embedder_for
from app.services.chat.semantic import semantic_index
from ops.bench.retrieval import UNSOLD, Quality, load_catalog, measure, quality_sets
from tests.chat.conftest import embed_catalog
from tests.conftest import new_merchant

KINDS = {"exact", "misspelling", "synonym", "situation", "constraint", "language", UNSOLD}
# Measured 0.918 overall; per kind: exact 1.00, misspelling 1.00 (spelling correction),
# constraint 0.96, synonym 0.93, unsold 0.91, language 0.89, situation 0.79.
OVERALL_FLOOR = 0.89
KIND_FLOOR = {"situation": 0.72, "misspelling": 0.9, UNSOLD: 0.85}
DEFAULT_KIND_FLOOR = 0.85


def test_the_labelled_set_is_big_varied_and_consistent() -> None:
    sets = quality_sets()
    questions = [item for quality_set in sets for item in quality_set.questions]
    assert len(sets) >= 2 and len(questions) >= 150
    assert {item["kind"] for item in questions} == KINDS
    assert {item["lang"] for item in questions} == {"en", "de", "fr", "es"}
    for quality_set in sets:
        text = quality_set.catalog.read_text()
        for item in quality_set.questions:
            assert (item["kind"] == UNSOLD) == (not item["relevant"]), item
            for product_id in item["relevant"]:
                assert product_id in text, (quality_set.name, product_id)
    assert json.loads(sets[0].catalog.read_text())["products"]  # the demo catalog itself


def test_hybrid_retrieval_holds_its_quality_on_the_labelled_set(client: TestClient) -> None:
    platform = client.app.state.platform  # type: ignore[attr-defined]
    total = Quality()
    for quality_set in quality_sets():
        merchant = new_merchant(client)

        async def load(merchant_id: str = merchant.id) -> None:
            await load_catalog(platform.sessions, merchant_id, quality_set)

        client.portal.call(load)  # type: ignore[union-attr]
        embed_catalog(client, merchant.id)

        async def score(merchant_id: str = merchant.id) -> Quality:
            index = semantic_index(platform.sessions, embedder_for(platform, platform.settings))
            return await measure(
                platform.sessions, merchant_id, quality_set.questions, semantic=index
            )

        total.add(client.portal.call(score))  # type: ignore[union-attr]
    print(total.table())
    assert total.rate() >= OVERALL_FLOOR, total.misses
    for kind in KINDS:
        assert total.rate(kind) >= KIND_FLOOR.get(kind, DEFAULT_KIND_FLOOR), (kind, total.misses)
