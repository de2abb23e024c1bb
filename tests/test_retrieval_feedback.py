"""Dense pseudo-relevance feedback: the Rocchio formula, and eval's dense+prf / hybrid+prf systems."""

from __future__ import annotations

import numpy as np
import pytest

from retriever.eval.runner import evaluate
from retriever.retrieval.config import EncoderConfig, FeedbackConfig, FusionConfig
from retriever.retrieval.dense_index import DenseIndex
from retriever.retrieval.encoder import Encoder
from retriever.retrieval.fusion import fuse
from retriever.retrieval.search import dense_search, rocchio, vector_search
from tests.test_eval_runner import QRELS, QUERIES, beir, config  # noqa: F401 (beir is a fixture)


def test_rocchio_adds_the_weighted_mean_of_the_fed_back_documents():
    queries = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    documents = np.array([[0.0, 0.0, 2.0], [4.0, 0.0, 0.0], [0.0, 6.0, 0.0]], dtype=np.float32)
    rows = np.array([[0, 1], [2, -1]])  # the second query's second slot is unfilled: left out
    moved = rocchio(queries, documents, rows, weight=0.5, normalize=False)
    np.testing.assert_allclose(moved, [[1 + 0.5 * 2, 0, 0.5 * 1], [0, 1 + 0.5 * 6, 0]])
    unit = rocchio(queries, documents, rows, weight=0.5, normalize=True)
    np.testing.assert_allclose(unit, moved / np.linalg.norm(moved, axis=1, keepdims=True), rtol=1e-6)
    alone = rocchio(queries, documents, np.full((2, 2), -1), weight=0.5, normalize=False)
    np.testing.assert_array_equal(alone, queries)  # no document fed back: the query is unchanged


def test_dense_search_with_feedback_searches_the_moved_queries(beir, tiny_bi_encoder):  # noqa: F811
    from retriever.data.loader import load_dataset

    corpus = load_dataset(str(beir), "test").corpus
    encoder = Encoder(str(tiny_bi_encoder), EncoderConfig(device="cpu"))
    documents = encoder.encode_documents(encoder.document_texts(corpus))
    index = DenseIndex.build(documents, list(corpus.ids))
    queries = {qid: QUERIES[qid] for qid in QRELS}
    vectors = encoder.encode_queries(list(queries.values()))
    _, top2 = index.search(vectors, 2)
    expected = vector_search(index, list(queries), rocchio(vectors, documents, top2, 0.7, True), 8)
    got = dense_search(encoder, index, queries, 8, FeedbackConfig(depth=2, weight=0.7), documents)
    assert got.keys() == expected.keys()
    for qid in got:
        assert list(got[qid]) == list(expected[qid]) and got[qid] == pytest.approx(expected[qid])
    plain = dense_search(encoder, index, queries, 8)
    assert dense_search(encoder, index, queries, 8, FeedbackConfig(depth=0), documents) == plain
    assert got != plain
    with pytest.raises(ValueError, match="needs the corpus vectors"):
        dense_search(encoder, index, queries, 8, FeedbackConfig(depth=2))


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
