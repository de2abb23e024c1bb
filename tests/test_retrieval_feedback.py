"""Dense pseudo-relevance feedback: the Rocchio formula, and eval's dense+prf / hybrid+prf systems."""

from __future__ import annotations

import numpy as np
import pytest

from retriever.data.loader import load_dataset
from retriever.errors import InputError
from retriever.eval.runner import evaluate
from retriever.retrieval.config import EncoderConfig, FeedbackConfig, FusionConfig, IndexConfig
from retriever.retrieval.dense_index import DenseIndex
from retriever.retrieval.encoder import Encoder
from retriever.retrieval.fusion import fuse
from retriever.retrieval.search import dense_search, rocchio, vector_search
from tests.test_eval_runner import QRELS, QUERIES, beir, config  # noqa: F401 (beir is a fixture)


def test_rocchio_adds_the_weighted_mean_of_the_fed_back_documents():
    queries = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    neighbours = np.array([[[0, 0, 2], [4, 0, 0]], [[0, 6, 0], [0, 0, 0]]], dtype=np.float32)
    filled = np.array([[True, True], [True, False]])  # the second query's second slot is unfilled: left out
    moved = rocchio(queries, neighbours, filled, weight=0.5, normalize=False)
    np.testing.assert_allclose(moved, [[1 + 0.5 * 2, 0, 0.5 * 1], [0, 1 + 0.5 * 6, 0]])
    unit = rocchio(queries, neighbours, filled, weight=0.5, normalize=True)
    np.testing.assert_allclose(unit, moved / np.linalg.norm(moved, axis=1, keepdims=True), rtol=1e-6)
    alone = rocchio(queries, neighbours, np.zeros((2, 2), dtype=bool), weight=0.5, normalize=False)
    np.testing.assert_array_equal(alone, queries)  # no document fed back: the query is unchanged


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_index_gives_back_its_vectors_and_zeros_for_unfilled_slots(kind):
    vectors = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    index = DenseIndex.build(vectors, [f"d{i}" for i in range(5)], IndexConfig(type=kind))
    got = index.vectors(np.array([[3, -1], [0, 4]]))
    np.testing.assert_array_equal(got, [[vectors[3], np.zeros(4)], [vectors[0], vectors[4]]])


def test_feedback_on_an_ivfpq_index_is_a_clear_error():
    vectors = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    config = IndexConfig(type="ivfpq", ivf_nlist=4, pq_m=2, pq_nbits=4)
    index = DenseIndex.build(vectors, [f"d{i}" for i in range(300)], config)
    with pytest.raises(InputError, match="flat or hnsw index"):
        index.vectors(np.array([[0]]))


def test_dense_search_with_feedback_searches_the_moved_queries(beir, tiny_bi_encoder):  # noqa: F811
    corpus = load_dataset(str(beir), "test").corpus
    encoder = Encoder(str(tiny_bi_encoder), EncoderConfig(device="cpu"))
    documents = encoder.encode_documents(encoder.document_texts(corpus))
    index = DenseIndex.build(documents, list(corpus.ids))
    queries = {qid: QUERIES[qid] for qid in QRELS}
    vectors = encoder.encode_queries(list(queries.values()))
    _, top2 = index.search(vectors, 2)
    moved = rocchio(vectors, documents[top2], np.ones_like(top2, dtype=bool), 0.7, True)
    expected = vector_search(index, list(queries), moved, 8)
    got = dense_search(encoder, index, queries, 8, FeedbackConfig(depth=2, weight=0.7))
    assert got.keys() == expected.keys()
    for qid in got:
        assert list(got[qid]) == list(expected[qid]) and got[qid] == pytest.approx(expected[qid])
    plain = dense_search(encoder, index, queries, 8)
    assert dense_search(encoder, index, queries, 8, FeedbackConfig(depth=0)) == plain
    assert got != plain


def test_eval_names_and_fuses_the_feedback_run(beir, tmp_path, tiny_bi_encoder):  # noqa: F811
    settings = {"models": [str(tiny_bi_encoder)], "k": 8, "fusion": {"method": "rrf"}}
    plain = evaluate(config(beir, tmp_path, retrievers=["dense"], **settings))
    report = evaluate(
        config(beir, tmp_path, retrievers=["bm25", "dense", "hybrid"], feedback={"depth": 2}, **settings)
    )
    systems = {s.name: s for s in report.systems}
    assert list(systems) == ["bm25", "dense+prf", "hybrid+prf"]
    assert systems["dense+prf"].run != plain.systems[0].run
    expected = fuse(systems["dense+prf"].run, systems["bm25"].run, FusionConfig(method="rrf"), 8)
    for qid, docs in expected.items():
        assert systems["hybrid+prf"].run[qid] == pytest.approx(docs)
