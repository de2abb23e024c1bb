"""DenseIndex: flat is exact; HNSW and IVF-PQ agree with flat within their expected loss; save/load."""

from __future__ import annotations

import numpy as np
import pytest

from retriever.errors import InputError
from retriever.retrieval.config import IndexConfig
from retriever.retrieval.dense_index import DenseIndex


def clustered(n: int, dimension: int = 32, clusters: int = 50, seed: int = 0) -> np.ndarray:
    """Unit vectors scattered around random centres (like embeddings of topical documents)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dimension))
    points = centres[rng.integers(clusters, size=n)] + 0.4 * rng.normal(size=(n, dimension))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    docs, queries = clustered(3000), clustered(200, seed=1)
    ids = [f"d{i}" for i in range(len(docs))]
    return docs, queries, ids, DenseIndex.build(docs, ids, IndexConfig(type="flat"))


def recall_at_10(approx_rows: np.ndarray, exact_rows: np.ndarray) -> float:
    hits = [len(set(a[:10]) & set(e[:10])) for a, e in zip(approx_rows, exact_rows, strict=True)]
    return sum(hits) / (10 * len(hits))


def test_flat_is_exact_inner_product(data):
    docs, queries, _, flat = data
    scores, rows = flat.search(queries, 10)
    brute = queries @ docs.T
    np.testing.assert_array_equal(rows[:, 0], brute.argmax(axis=1))
    np.testing.assert_allclose(scores, np.take_along_axis(brute, rows, axis=1), rtol=1e-5, atol=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)


@pytest.mark.parametrize(
    ("config", "minimum"),
    [
        (IndexConfig(type="hnsw", hnsw_m=16, hnsw_ef_search=128), 0.95),
        (IndexConfig(type="ivfpq", ivf_nlist=32, ivf_nprobe=8, pq_m=8, pq_nbits=8), 0.5),
    ],
)
def test_approximate_indexes_agree_with_flat(data, config, minimum):
    docs, queries, ids, flat = data
    exact = flat.search(queries, 10)[1]
    approx = DenseIndex.build(docs, ids, config).search(queries, 10)[1]
    recall = recall_at_10(approx, exact)
    assert minimum <= recall <= 1.0
    if config.type == "ivfpq":  # probing a single list loses neighbours that sit in other lists
        narrow = DenseIndex.build(docs, ids, config.model_copy(update={"ivf_nprobe": 1}))
        assert recall_at_10(narrow.search(queries, 10)[1], exact) < recall


def test_save_load_round_trip_and_k_cap(data, tmp_path):
    docs, queries, ids, _ = data
    index = DenseIndex.build(docs[:50], ids[:50], IndexConfig(type="hnsw"), metadata={"model": "m"})
    scores, rows = index.search(queries, 100)
    assert rows.shape == (len(queries), 50)
    loaded = DenseIndex.load(index.save(tmp_path / "idx"))
    assert loaded.ids == ids[:50] and loaded.metadata == {"model": "m"}
    assert loaded.config.hnsw_ef_search == index.config.hnsw_ef_search
    loaded_scores, loaded_rows = loaded.search(queries, 100)
    np.testing.assert_array_equal(loaded_rows, rows)
    np.testing.assert_allclose(loaded_scores, scores)


def test_ivfpq_needs_enough_documents_and_a_dividing_m(data, tmp_path):
    docs, _, ids, _ = data
    with pytest.raises(InputError, match="too few to train ivfpq"):
        DenseIndex.build(docs[:100], ids[:100], IndexConfig(type="ivfpq", ivf_nlist=256))
    with pytest.raises(InputError, match="must divide"):
        DenseIndex.build(docs, ids, IndexConfig(type="ivfpq", pq_m=5))
    with pytest.raises(InputError, match="not an index directory"):
        DenseIndex.load(tmp_path)
