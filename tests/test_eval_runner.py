"""evaluate(): metric styles, run/metric consistency, hybrid = fused runs, cache hits, in-memory models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from retriever.data.dataset import Corpus, Dataset
from retriever.data.loader import load_dataset
from retriever.eval.config import EvalConfig, EvalSettings
from retriever.eval.metrics import evaluate_run, read_trec_run
from retriever.eval.runner import evaluate, evaluate_systems
from retriever.retrieval.config import FusionConfig
from retriever.retrieval.encoder import Encoder
from retriever.retrieval.fusion import fuse

DOCS = {
    "d1": ("Paris", "paris is the capital of france"),
    "d2": ("Berlin", "berlin is the capital of germany"),
    "d3": ("Rome", "rome is the capital city of italy"),
    "d4": ("", "the vaccine reduced virus infection in patients"),
    "d5": ("", "a gene expression study in mouse liver"),
    "d6": ("", "blood pressure and heart disease risk"),
    "d7": ("London", "london is a city in england on a river"),
    "d8": ("", "tumor cells increase protein levels"),
}
QUERIES = {
    "q1": "capital of france",
    "q2": "virus vaccine patients",
    "q3": "heart risk",
    "q4": "mouse liver gene",
    "q5": "unjudged query",
}
QRELS = {"q1": {"d1": 2, "d3": 1}, "q2": {"d4": 1}, "q3": {"d6": 1}, "q4": {"d5": 1}}


def write_beir(directory: Path) -> Path:
    """A small BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv."""
    (directory / "qrels").mkdir(parents=True)
    with (directory / "corpus.jsonl").open("w") as out:
        for doc_id, (title, text) in DOCS.items():
            out.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with (directory / "queries.jsonl").open("w") as out:
        for qid, text in QUERIES.items():
            out.write(json.dumps({"_id": qid, "text": text}) + "\n")
    lines = ["query-id\tcorpus-id\tscore"] + [
        f"{q}\t{d}\t{g}" for q, docs in QRELS.items() for d, g in docs.items()
    ]
    (directory / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
    return directory


@pytest.fixture
def beir(tmp_path) -> Path:
    return write_beir(tmp_path / "tinybeir")


def config(data: Path, tmp_path: Path, **settings) -> EvalConfig:
    return EvalConfig(
        data=str(data), cache_dir=str(tmp_path / "cache"), encoder={"device": "cpu"}, **settings
    )


def test_bm25_beir_style_metrics_match_the_written_run(beir, tmp_path):
    report = evaluate(config(beir, tmp_path, retrievers=["bm25"], k=5, output=str(tmp_path / "out")))
    assert report.style == "beir" and report.relevance_threshold == 1
    assert report.metric_names == ["nDCG@10", "Recall@100", "MAP@100", "MRR@10"]
    (system,) = report.systems
    assert set(system.run) == {"q1", "q2", "q3", "q4"}  # only judged queries are searched
    assert all(len(docs) <= 5 for docs in system.run.values())
    assert next(iter(system.run["q1"])) == "d1"
    written = read_trec_run(tmp_path / "out" / "run.trec")
    rescored = evaluate_run(QRELS, written, report.metric_names).mean
    assert rescored == pytest.approx(system.metrics)
    assert 0 < system.metrics["nDCG@10"] <= 1
    assert report.dataset["counts"] == {"documents": 8, "queries": 4, "qrels": 5, "answers": 0}


def test_hybrid_is_the_fusion_of_the_dense_and_bm25_runs(beir, tmp_path, tiny_bi_encoder):
    settings = {"models": [str(tiny_bi_encoder)], "k": 8, "fusion": {"method": "interpolation", "alpha": 0.3}}
    report = evaluate(config(beir, tmp_path, retrievers=["bm25", "dense", "hybrid"], **settings))
    systems = {s.name: s for s in report.systems}
    assert list(systems) == ["bm25", "dense", "hybrid"]
    expected = fuse(
        systems["dense"].run, systems["bm25"].run, FusionConfig(method="interpolation", alpha=0.3), 8
    )
    assert systems["hybrid"].run.keys() == expected.keys()
    for qid, docs in expected.items():
        assert systems["hybrid"].run[qid] == pytest.approx(docs)
    assert systems["dense"].encoder["similarity"] == "cosine" and systems["dense"].encoder["normalized"]
    assert {"encode_corpus", "build_index", "search", "evaluate"} <= set(systems["dense"].timings)


def test_second_eval_reads_corpus_vectors_from_the_cache(beir, tmp_path, tiny_bi_encoder, monkeypatch):
    calls = []
    original = Encoder.encode_documents
    monkeypatch.setattr(
        Encoder, "encode_documents", lambda self, texts: calls.append(len(texts)) or original(self, texts)
    )
    cfg = config(beir, tmp_path, models=[str(tiny_bi_encoder)])
    first = evaluate(cfg)
    assert calls == [8]
    second = evaluate(cfg)
    assert calls == [8]  # no document was encoded again
    assert second.systems[0].metrics == first.systems[0].metrics
    evaluate(cfg.model_copy(update={"cache": False}))
    assert calls == [8, 8]


def test_in_memory_model_and_several_models_get_distinct_names(beir, tmp_path, tiny_bi_encoder):
    model = Encoder(str(tiny_bi_encoder), progress=False).model
    settings = config(beir, tmp_path, cache=False)
    dataset = load_dataset(settings.data, settings.split)
    report = evaluate_systems(settings, dataset, [model, str(tiny_bi_encoder)])
    names = [s.name for s in report.systems]
    assert names == ["dense:model", f"dense:{tiny_bi_encoder.name}"]
    assert report.systems[0].metrics == pytest.approx(report.systems[1].metrics)


def test_beir_style_ignores_identical_ids_by_default(tmp_path):
    """BEIR's rule (ignore_identical_ids): a query that is also a document never retrieves itself."""
    corpus = Corpus(
        ids=["d1", "d2", "d3"],
        titles=["", "", ""],
        texts=["paris capital of france", "paris is in france", "berlin capital of germany"],
    )
    dataset = Dataset(
        "argu", corpus, queries={"d1": "paris capital of france"}, qrels={"d1": {"d2": 1}}, split="test"
    )
    report = evaluate_systems(config(tmp_path, tmp_path, retrievers=["bm25"]), dataset)
    assert report.style == "beir" and report.remove_self_hits
    assert next(iter(report.systems[0].run["d1"])) == "d2" and report.systems[0].metrics["MRR@10"] == 1.0
    kept = evaluate_systems(config(tmp_path, tmp_path, retrievers=["bm25"], remove_self_hits=False), dataset)
    assert next(iter(kept.systems[0].run["d1"])) == "d1" and kept.systems[0].metrics["MRR@10"] == 0.5
    assert not kept.remove_self_hits


def test_queries_without_results_count_zero_and_are_reported(tmp_path):
    """trec_eval -c: a judged query BM25 finds nothing for scores 0 and is listed in the report."""
    corpus = Corpus(ids=["d1", "d2"], titles=["", ""], texts=["paris capital", "berlin capital"])
    dataset = Dataset(
        "oov",
        corpus,
        queries={"q1": "paris", "q2": "eggnog"},
        qrels={"q1": {"d1": 1}, "q2": {"d2": 1}},
        split="test",
    )
    out = tmp_path / "out"
    report = evaluate_systems(config(tmp_path, tmp_path, retrievers=["bm25"], output=str(out)), dataset)
    (system,) = report.systems
    assert system.missing_queries == ["q2"] and system.per_query["q2"]["nDCG@10"] == 0.0
    assert system.metrics["nDCG@10"] == pytest.approx(0.5)
    written = read_trec_run(out / "run.trec")
    assert "q2" not in written  # nothing to write for it, yet it still counts, as in trec_eval -c
    assert evaluate_run(dataset.qrels, written, ["nDCG@10"]).mean["nDCG@10"] == pytest.approx(0.5)
    assert json.loads((out / "report.json").read_text())["systems"][0]["missing_queries"] == ["q2"]
    assert "1 judged queries without results" in (out / "report.md").read_text()


def test_graded_msmarco_layout_uses_threshold_two(tmp_path):
    data = tmp_path / "msmarco"
    data.mkdir()
    (data / "collection.tsv").write_text("".join(f"{d}\t{text}\n" for d, (_, text) in DOCS.items()))
    (data / "queries.tsv").write_text("".join(f"{q}\t{text}\n" for q, text in QUERIES.items()))
    (data / "qrels.tsv").write_text("q1 0 d1 2\nq1 0 d3 1\nq2 0 d4 3\nq3 0 d6 1\n")
    report = evaluate(config(data, tmp_path, retrievers=["bm25"]))
    assert report.style == "msmarco" and report.relevance_threshold == 2
    assert report.metric_names == ["MRR@10", "nDCG@10", "Recall@100", "Recall@1000"]
    assert set(report.systems[0].per_query) == {"q1", "q2"}  # q3 has no grade >= 2


def test_answers_select_nq_accuracy_and_self_hits_can_be_removed(tmp_path):
    corpus = Corpus(ids=list(DOCS), titles=[t for t, _ in DOCS.values()], texts=[x for _, x in DOCS.values()])
    dataset = Dataset(
        name="nq-like",
        corpus=corpus,
        queries={"d2": "capital of germany", "q2": "which city is on a river in england"},
        answers={"d2": ["berlin"], "q2": ["london"]},
        split="test",
    )
    report = evaluate_systems(config(tmp_path, tmp_path, retrievers=["bm25"]), dataset)
    assert report.style == "nq"
    assert report.systems[0].metrics == {
        "Accuracy@1": 1.0,
        "Accuracy@5": 1.0,
        "Accuracy@20": 1.0,
        "Accuracy@100": 1.0,
    }
    without = evaluate_systems(
        config(tmp_path, tmp_path, retrievers=["bm25"], remove_self_hits=True), dataset
    )
    assert without.systems[0].metrics["Accuracy@1"] == 0.5  # d2's only answer-bearing passage is d2 itself
    assert "d2" in report.systems[0].run["d2"] and "d2" not in without.systems[0].run["d2"]


def test_settings_without_inputs_evaluate_a_loaded_dataset(tmp_path):
    """evaluate_systems takes the settings alone: the report holds no made-up dataset or model names."""
    corpus = Corpus(ids=["d1", "d2"], titles=["", ""], texts=["paris capital of france", "berlin germany"])
    dataset = Dataset("mine", corpus, queries={"q": "capital of france"}, qrels={"q": {"d1": 1}}, split="dev")
    report = evaluate_systems(EvalSettings(retrievers=["bm25"], k=2), dataset)
    assert report.systems[0].metrics["MRR@10"] == 1.0 and report.dataset["source"] is None
    assert "data" not in report.config.model_dump() and "models" not in report.config.model_dump()


def test_models_sharing_a_directory_name_keep_their_own_systems_and_run_files(
    beir, tmp_path, tiny_bi_encoder
):
    """Two trained models both saved as ``<run>/model`` must not share a system name or overwrite a run file."""
    first, second = tmp_path / "jointlh" / "model", tmp_path / "summarglh" / "model"
    shutil.copytree(tiny_bi_encoder, first)
    shutil.copytree(tiny_bi_encoder, second)
    settings = config(
        beir,
        tmp_path,
        cache=False,
        retrievers=["dense"],
        output=str(tmp_path / "out"),
        models=[str(first), str(second), str(second)],
    )
    report = evaluate(settings)
    names = [s.name for s in report.systems]
    assert names == ["dense:jointlh/model", "dense:summarglh/model", "dense:summarglh/model#2"]
    run_files = sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("run.trec")
    )
    assert run_files == [
        "dense_jointlh_model/run.trec",
        "dense_summarglh_model/run.trec",
        "dense_summarglh_model_2/run.trec",
    ]
