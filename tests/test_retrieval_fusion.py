"""Fusion on hand-computed examples: RRF (k=60) and min-max interpolation."""

from __future__ import annotations

import pytest

from retriever.retrieval.config import FusionConfig
from retriever.retrieval.fusion import fuse, interpolate, reciprocal_rank_fusion
from retriever.retrieval.ranking import ranked

DENSE = {"q": {"a": 0.9, "b": 0.8, "c": 0.1}}
LEXICAL = {"q": {"b": 12.0, "c": 7.0, "d": 2.0}}


def test_rrf_sums_reciprocal_ranks():
    fused = reciprocal_rank_fusion([DENSE, LEXICAL], k=60)["q"]
    assert fused == pytest.approx(
        {"a": 1 / 61, "b": 1 / 62 + 1 / 61, "c": 1 / 63 + 1 / 62, "d": 1 / 63}, abs=1e-15
    )
    assert ranked(fused) == ["b", "c", "a", "d"]


def test_rrf_depth_ignores_documents_below_the_cut():
    fused = reciprocal_rank_fusion([DENSE, LEXICAL], k=60, depth=1)["q"]
    assert fused == pytest.approx({"a": 1 / 61, "b": 1 / 61})


def test_interpolation_min_max_normalises_each_run():
    fused = interpolate(DENSE, LEXICAL, alpha=0.25)["q"]
    dense = {"a": 1.0, "b": 0.7 / 0.8, "c": 0.0}
    lexical = {"b": 1.0, "c": 0.5, "d": 0.0}
    expected = {doc: 0.25 * dense.get(doc, 0) + 0.75 * lexical.get(doc, 0) for doc in "abcd"}
    assert fused == pytest.approx(expected)


def test_interpolation_constant_run_and_missing_query():
    fused = interpolate({"q": {"a": 3.0, "b": 3.0}}, {"r": {"x": 1.0}}, alpha=0.5)
    assert fused == {"q": {"a": 0.5, "b": 0.5}, "r": {"x": 0.5}}


def test_ties_break_by_descending_id_and_fuse_keeps_k():
    assert ranked({"b": 1.0, "a": 1.0, "c": 2.0}) == ["c", "b", "a"]
    fused = fuse(DENSE, LEXICAL, FusionConfig(method="rrf"), k=2)
    assert list(fused["q"]) == ["b", "c"]
    interpolated = fuse(DENSE, LEXICAL, FusionConfig(method="interpolation", alpha=1.0), k=1)
    assert interpolated == {"q": {"a": 1.0}}
