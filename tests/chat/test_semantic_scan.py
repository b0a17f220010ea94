"""The reduced scan of large catalogs (issue 11): beyond EXACT_UP_TO products a question is
compared with 128-d projections first and the best RERANK re-scored in full. It must find
what the full scan finds, with the full scan's scores."""

import dataclasses

import numpy as np
import pytest

from app.services.chat import semantic
from app.services.chat.embeddings import normalized


def test_the_reduced_scan_finds_what_the_full_scan_finds() -> None:
    generator = np.random.default_rng(7)
    # 300 kinds of product with 100 variants each: clustered, as real catalogs are.
    kinds = normalized(generator.standard_normal((300, 512)).astype(np.float32))
    rows = normalized(
        np.repeat(kinds, 100, axis=0)
        + generator.standard_normal((30_000, 512)).astype(np.float32) * 0.01
    )
    assert len(rows) > semantic.EXACT_UP_TO
    keys = np.arange(len(rows), dtype=np.int64) * 3 + 5  # pks need not be positions
    reduced = semantic.prepared(None, 0.0, keys, rows)
    assert reduced.reduced is not None and reduced.basis is not None
    full = dataclasses.replace(reduced, basis=None, reduced=None)
    for kind in generator.choice(300, size=20, replace=False):
        question = normalized(
            (kinds[kind] + generator.standard_normal(512).astype(np.float32) * 0.03)[None, :]
        )[0]
        exact = semantic.Similarities(keys, rows, question, rows @ question, True, 0.0)
        fast = semantic.Similarities(
            keys, rows, question, reduced.reduced @ (question @ reduced.basis), False, 0.0
        )
        # The same 40 best scores (products tied on a score may come in either order).
        assert [score for _, score in fast.top(40)] == pytest.approx(
            [score for _, score in exact.top(40)], abs=1e-6
        )
        key, score = exact.top(1)[0]
        assert fast.of(key) == pytest.approx(score, abs=1e-6)
        assert int(key - 5) // 3 // 100 == kind
    assert full.reduced is None


def test_small_catalogs_are_scanned_in_full() -> None:
    rows = normalized(np.random.default_rng(1).standard_normal((500, 512)).astype(np.float32))
    matrix = semantic.prepared(None, 0.0, np.arange(500, dtype=np.int64), rows)
    assert matrix.reduced is None and matrix.basis is None
    assert np.allclose(matrix.total, rows.sum(axis=0, dtype=np.float64))
