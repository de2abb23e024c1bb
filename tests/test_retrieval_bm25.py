"""BM25: the Lucene formula on a hand example, stemming and stopwords, engines, save/load, errors."""

from __future__ import annotations

import math

import pytest

from retriever.data.dataset import Corpus
from retriever.errors import InputError
from retriever.retrieval.bm25 import BM25Index, tokenize
from retriever.retrieval.config import BM25Config

CORPUS = Corpus(
    ids=["d1", "d2", "d3", "d4"],
    titles=["Vaccines", "", "", "Paris"],
    texts=[
        "vaccine trials reduce infection risk",
        "the patients were running daily and runs reduced heart risk",
        "gene expression in mouse liver",
        "capital of france",
    ],
)


def lucene_score(query_terms, doc_terms, docs, k1=1.5, b=0.75):
    avgdl = sum(len(d) for d in docs) / len(docs)
    score = 0.0
    for term in query_terms:
        df = sum(term in d for d in docs)
        tf = doc_terms.count(term)
        idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
        score += idf * tf / (tf + k1 * (1 - b + b * len(doc_terms) / avgdl))
    return score


def test_scores_follow_the_lucene_formula():
    config = BM25Config()
    docs = tokenize(CORPUS.joined(" "), config)
    run = BM25Index.build(CORPUS, config).search({"q": "risk of infection"}, k=10)
    query = tokenize(["risk of infection"], config)[0]
    expected = {i: lucene_score(query, docs[i], docs) for i in range(4)}
    assert set(run["q"]) == {"d1", "d2"}
    for i, doc_id in enumerate(CORPUS.ids):
        if doc_id in run["q"]:
            assert run["q"][doc_id] == pytest.approx(expected[i], rel=1e-5)
    assert list(run["q"]) == ["d1", "d2"]


def test_stemming_stopwords_and_title():
    index = BM25Index.build(CORPUS)
    assert list(index.search({"q": "run"}, k=3)["q"]) == ["d2"]
    assert index.search({"q": "the and of"}, k=3) == {"q": {}}
    assert list(index.search({"q": "vaccines"}, k=1)["q"]) == ["d1"]
    unstemmed = BM25Index.build(CORPUS, BM25Config(stemmer=None))
    assert unstemmed.search({"q": "run"}, k=3) == {"q": {}}


def test_k_is_capped_at_corpus_size_and_save_load(tmp_path):
    index = BM25Index.build(CORPUS, BM25Config(k1=0.9, b=0.4))
    run = index.search({"q": "liver gene france"}, k=100)
    reloaded = BM25Index.load(index.save(tmp_path / "bm25"))
    assert reloaded.config.k1 == 0.9
    assert reloaded.search({"q": "liver gene france"}, k=100) == run


def test_rank_bm25_engine_agrees_on_ranking(tmp_path):
    pytest.importorskip("rank_bm25")
    config = BM25Config(backend="rank_bm25", method="robertson")
    index = BM25Index.build(CORPUS, config)
    assert list(index.search({"q": "heart risk running"}, k=2)["q"])[0] == "d2"
    reloaded = BM25Index.load(index.save(tmp_path / "rank"))
    assert reloaded.search({"q": "liver"}, k=1) == index.search({"q": "liver"}, k=1)


def test_unavailable_engines_and_bad_settings_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="rank_bm25 has no 'atire'"):
        BM25Index.build(CORPUS, BM25Config(backend="rank_bm25", method="atire"))
    with pytest.raises(InputError, match="stemmer"):
        BM25Index.build(CORPUS, BM25Config(stemmer="klingon"))
    with pytest.raises(InputError, match="not a BM25 index directory"):
        BM25Index.load(tmp_path)
    try:
        import pyserini  # noqa: F401
    except ImportError:
        with pytest.raises(InputError, match="pyserini"):
            BM25Index.build(CORPUS, BM25Config(backend="pyserini"))


@pytest.mark.parametrize("backend", ["bm25s", "rank_bm25"])
def test_a_corpus_of_stopwords_is_an_input_error(backend):
    corpus = Corpus(ids=["a", "b"], titles=["", "The"], texts=["the of and", "is a the"])
    with pytest.raises(InputError, match="nothing to index.*stopwords"):
        BM25Index.build(corpus, BM25Config(backend=backend))
    kept = BM25Index.build(corpus, BM25Config(backend=backend, stopwords=None))
    assert set(kept.search({"q": "the"}, 2)["q"]) == {"a", "b"}
