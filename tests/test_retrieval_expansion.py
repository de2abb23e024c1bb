"""Document expansion with labelled queries: the grouping, the appended texts, the moved vectors, and eval's
``+docexp`` systems (never with the split evaluated)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from retriever.data.loader import load_dataset
from retriever.errors import InputError
from retriever.eval.runner import evaluate
from retriever.retrieval.config import EncoderConfig
from retriever.retrieval.dense_index import DenseIndex
from retriever.retrieval.encoder import Encoder
from retriever.retrieval.expansion import FORMULA, DocumentExpansion
from retriever.retrieval.search import vector_search
from tests.test_eval_runner import DOCS, beir, config  # noqa: F401 (beir is a fixture)

TRAIN_QUERIES = {"t1": "immunisation shots", "t2": "jab efficacy", "t3": "french city"}
TRAIN_QRELS = {"t1": {"d4": 1}, "t2": {"d4": 2, "d6": 0}, "t3": {"d1": 1, "d2": 1, "missing": 1}}


@pytest.fixture
def labelled(beir):  # noqa: F811
    """The tiny BEIR folder with a train split whose queries use words no document has."""
    with (beir / "queries.jsonl").open("a") as out:
        for qid, text in {**TRAIN_QUERIES, "q6": "immunisation jab"}.items():
            out.write(json.dumps({"_id": qid, "text": text}) + "\n")
    rows = [f"{q}\t{d}\t{g}" for q, docs in TRAIN_QRELS.items() for d, g in docs.items()]
    (beir / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(rows) + "\n")
    with (beir / "qrels" / "test.tsv").open("a") as out:
        out.write("q6\td4\t1\n")
    return beir


def test_documents_get_the_queries_labelled_relevant_to_them(labelled):
    expansion = DocumentExpansion.from_dataset(load_dataset(str(labelled), "train"), weight=2.0)
    # grade 0 is not relevant, and a document outside the corpus is skipped (nor counted in t3's share)
    assert expansion.queries == {
        "d4": [("immunisation shots", 1.0), ("jab efficacy", 1.0)],
        "d1": [("french city", 0.5)],
        "d2": [("french city", 0.5)],
    }
    corpus = expansion.corpus(load_dataset(str(labelled), "test").corpus)
    texts = dict(zip(corpus.ids, corpus.texts, strict=True))
    assert texts["d4"] == f"{DOCS['d4'][1]} immunisation shots jab efficacy"
    assert texts["d2"] == f"{DOCS['d2'][1]} french city"
    assert texts["d3"] == DOCS["d3"][1] and list(corpus.titles) == [title for title, _ in DOCS.values()]
    assert corpus.texts[2:5] == [texts["d3"], texts["d4"], texts["d5"]]  # slices and rows read alike
    assert corpus.texts[-5] == texts["d4"] and len(corpus.texts) == len(DOCS)


def test_each_query_spreads_the_weight_over_its_documents(labelled, tiny_bi_encoder):
    encoder = Encoder(str(tiny_bi_encoder), EncoderConfig(device="cpu"))
    corpus = load_dataset(str(labelled), "test").corpus
    documents = encoder.encode_documents(encoder.document_texts(corpus))
    expansion = DocumentExpansion.from_dataset(load_dataset(str(labelled), "train"), weight=0.5)
    moved = expansion.vectors(documents, list(corpus.ids), encoder)
    q1, q2, q3 = encoder.encode_queries(list(TRAIN_QUERIES.values()))
    expected = np.array(documents, dtype=np.float32)
    expected[3] += 0.5 * (q1 + q2)  # d4: two queries relevant to it alone
    expected[0] += 0.5 * q3 / 2  # d1 and d2 share t3
    expected[1] += 0.5 * q3 / 2
    if encoder.normalized:
        expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(moved, expected, rtol=1e-5, atol=1e-6)
    untouched = [i for i, doc_id in enumerate(corpus.ids) if doc_id not in {"d1", "d2", "d4"}]
    np.testing.assert_allclose(moved[untouched], np.asarray(documents)[untouched], rtol=1e-5, atol=1e-6)


def test_eval_expands_both_indexes_and_names_the_systems(labelled, tmp_path, tiny_bi_encoder):
    settings = {"models": [str(tiny_bi_encoder)], "k": 8, "split": "test"}
    plain = evaluate(config(labelled, tmp_path, retrievers=["bm25"], **settings))
    report = evaluate(
        config(
            labelled,
            tmp_path,
            retrievers=["bm25", "dense", "hybrid"],
            expansion={"split": "train", "weight": 0.5},
            **settings,
        )
    )
    systems = {s.name: s for s in report.systems}
    assert list(systems) == ["bm25+docexp", "dense+docexp", "hybrid+docexp"]
    # no document has q6's words: BM25 finds d4 only through its labelled queries
    assert "q6" not in plain.systems[0].run or "d4" not in plain.systems[0].run["q6"]
    assert next(iter(systems["bm25+docexp"].run["q6"])) == "d4"
    encoder = Encoder(str(tiny_bi_encoder), EncoderConfig(device="cpu"))
    dataset = load_dataset(str(labelled), "test")
    expansion = DocumentExpansion.from_dataset(load_dataset(str(labelled), "train"), weight=0.5)
    documents = encoder.encode_documents(encoder.document_texts(dataset.corpus))
    index = DenseIndex.build(
        expansion.vectors(documents, list(dataset.corpus.ids), encoder), list(dataset.corpus.ids)
    )
    queries = dataset.judged_queries()
    expected = vector_search(index, list(queries), encoder.encode_queries(list(queries.values())), 8)
    for qid, docs in expected.items():
        assert list(systems["dense+docexp"].run[qid]) == list(docs)


def test_expanding_with_the_split_evaluated_is_refused(labelled, tmp_path):
    with pytest.raises(InputError, match="the split being evaluated"):
        evaluate(config(labelled, tmp_path, retrievers=["bm25"], split="train", expansion={"split": "train"}))


def test_a_saved_expanded_index_answers_as_eval_does(labelled, tmp_path, tiny_bi_encoder):
    from retriever.index.config import IndexBuildConfig
    from retriever.index.directory import build_index, load_index

    expansion = {"split": "train", "weight": 0.5}
    built = IndexBuildConfig(
        model=str(tiny_bi_encoder),
        data=str(labelled),
        output=tmp_path / "index",
        encoder={"device": "cpu"},
        bm25={},
        expansion=expansion,
        cache_dir=tmp_path / "cache",
    )
    loaded = load_index(build_index(built), device="cpu")
    assert loaded.manifest["expansion"] == {
        "split": "train",
        "weight": 0.5,
        "formula": FORMULA,
        "documents": 3,
        "labels": 4,
    }
    assert loaded.documents.get(["d4"])[0] == DOCS["d4"]  # served as written, without the queries
    report = evaluate(
        config(
            labelled,
            tmp_path,
            models=[str(tiny_bi_encoder)],
            k=5,
            split="test",
            retrievers=["bm25", "dense", "hybrid"],
            expansion=expansion,
        )
    )
    queries = load_dataset(str(labelled), "test").judged_queries()
    for system in report.systems:
        served = loaded.search(list(queries.values()), k=5, retriever=system.retriever)
        for qid, hits in zip(queries, served, strict=True):
            assert [doc for doc, _ in hits] == list(system.run[qid]), system.name


def test_a_missing_expansion_split_names_the_field(labelled, tmp_path):
    with pytest.raises(InputError, match="field 'expansion.split': unknown split 'dev'"):
        evaluate(config(labelled, tmp_path, retrievers=["bm25"], split="test", expansion={"split": "dev"}))
