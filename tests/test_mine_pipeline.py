"""The mining pipeline end to end on a tiny BEIR dataset with tiny models: files and manifest, teacher scores,
resume from checkpoints, LLM positives and the conflict policy against a loopback judge, a SIGKILL mid-judging
followed by a rerun (no repeated call, identical output), and one-line errors for bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.main import get_command

from retriever.cli import app
from retriever.data.training_file import read_training_file
from retriever.errors import InputError, RetrieverError
from retriever.mine.command import OPTIONS
from retriever.mine.config import MineConfig
from retriever.mine.pipeline import mine
from retriever.mine.summary import COLUMNS
from tests.fake_openai import FakeOpenAI, grade_of
from tests.tiny_models import WORDS

# typer reads the commands' (lazy) annotations, which declare their options, when it builds the app
get_command(app)

ROOT = Path(__file__).resolve().parents[1]
STOPWORDS = set("the a of and to in is for on with as by at from".split())


def _write_dataset(root: Path) -> Path:
    """40 documents, a duplicate of d1 (same text, other case), 7 queries (qx shares no word with the corpus)."""
    root.mkdir(parents=True, exist_ok=True)
    docs = [
        {
            "_id": f"d{i}",
            "title": f"title {WORDS[i % len(WORDS)]}",
            "text": " ".join(WORDS[(i * 5 + j * 3) % len(WORDS)] for j in range(15)),
        }
        for i in range(40)
    ]
    docs.append({"_id": "dup1", "title": docs[1]["title"], "text": docs[1]["text"].upper()})
    content = [[w for w in d["text"].split() if w not in STOPWORDS] for d in docs]
    queries = {f"q{i}": " ".join([*content[i][:4], WORDS[40 + i]]) for i in range(6)}  # distinct texts
    queries["qx"] = "zebra quantum xylophone"
    queries["unjudged"] = "protein cell"
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (root / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in queries.items())
    )
    (root / "qrels").mkdir(exist_ok=True)
    rows = ["query-id\tcorpus-id\tscore", *(f"q{i}\td{i}\t1" for i in range(6)), "q2\td7\t2", "qx\td9\t1"]
    (root / "qrels" / "train.tsv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory) -> Path:
    return _write_dataset(tmp_path_factory.mktemp("data") / "tiny")


@pytest.fixture(autouse=True)
def _embedding_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RETRIEVER_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "embeddings"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _config(dataset_dir, bi_encoder=None, cross_encoder=None, **sections) -> MineConfig:
    data = {
        "data": str(dataset_dir),
        "candidates": {"depth": 12, "bi_encoder": str(bi_encoder) if bi_encoder else None},
        "teacher": {"model": str(cross_encoder) if cross_encoder else None},
        "negatives": {"count": 4, "relative_margin": None},
        **sections,
    }
    return MineConfig.model_validate(data)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_mine_writes_training_file_and_manifest(tmp_path, dataset_dir, tiny_bi_encoder, tiny_cross_encoder):
    from sentence_transformers import CrossEncoder
    from torch.nn import Identity

    from retriever.data.loader import load_dataset

    logs: list[str] = []
    config = _config(
        dataset_dir, tiny_bi_encoder, tiny_cross_encoder, eci={"temperature": 0.001, "margin": 0.0}
    )
    manifest = mine(config, tmp_path, logs.append)
    examples = read_training_file(tmp_path / "train.jsonl")
    assert [e.query_id for e in examples] == ["q0", "q1", "q2", "q3", "q4", "q5", "qx"]
    assert manifest["strategy"] in {"bm25", "dense", "teacher", "hybrid"}
    table = manifest["eci"]
    assert set(table) == {"bm25", "dense", "teacher", "hybrid"}
    assert manifest["strategy"] == max(table, key=lambda s: table[s]["as_mined"]["eci"])
    for entry in table.values():
        assert entry["queries"] == 7 and set(entry["as_mined"]) == {"k", "hardness", "safety", "eci"}
    dataset = load_dataset(str(dataset_dir), "train")
    model = CrossEncoder(str(tiny_cross_encoder), activation_fn=Identity(), device="cpu")
    for example in examples:
        positive_ids = {p.id for p in example.positives}
        assert positive_ids == set(dataset.qrels[example.query_id])
        no_candidates = example.query_id == "qx" and manifest["strategy"] == "bm25"  # qx shares no word
        assert len(example.negatives) == (0 if no_candidates else 4)
        assert all(p.source == "qrels" for p in example.positives)
        assert not positive_ids & {n.id for n in example.negatives}
        if example.query_id == "q1":
            assert "dup1" not in {n.id for n in example.negatives}  # same text as the positive d1
        pairs = [(example.query, n.text) for n in example.negatives]
        expected = model.predict(pairs, show_progress_bar=False)
        np.testing.assert_allclose(
            [n.teacher_score for n in example.negatives], expected, rtol=1e-4, atol=1e-5
        )
        assert all(n.source == manifest["strategy"] for n in example.negatives)
    assert manifest["counts"]["duplicates_of_positives"] == 1
    assert manifest["teacher"]["kind"] == "cross-encoder" and manifest["teacher"]["cache_hits"] == 0
    assert manifest["dataset"]["queries"] == 7 and manifest["judge"] == {"kind": "none"}
    assert set(manifest["timings_s"]) == {"load", "candidates", "teacher", "judge", "select"}
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
    chosen = (tmp_path / "strategies" / f"{manifest['strategy']}.jsonl").read_bytes()
    assert chosen == (tmp_path / "train.jsonl").read_bytes()
    assert sorted(p.stem for p in (tmp_path / "strategies").iterdir()) == sorted(table)
    # the queries each strategy left without a negative, as its file has them
    for name, entry in table.items():
        written = read_training_file(tmp_path / "strategies" / f"{name}.jsonl")
        assert entry["queries_without_negatives"] == sum(not e.negatives for e in written)
    assert table["bm25"]["queries_without_negatives"] == 1  # qx
    # the report's table rows (the prose above the table names the chosen strategy too)
    rows = [
        line.split("|")[1:-1]
        for line in (tmp_path / "report.md").read_text().splitlines()
        if line.startswith("|")
    ]
    bm25_row = next(cells for cells in rows if cells[0].strip().strip("*").startswith("bm25"))
    assert bm25_row[COLUMNS.index("none kept")].strip() == "1"


def test_rerun_resumes_from_checkpoints_with_identical_output(tmp_path, dataset_dir, tiny_bi_encoder):
    config = _config(
        dataset_dir, tiny_bi_encoder, strategy="dense", negatives={"count": 3, "sampling": "random"}
    )
    first = mine(config, tmp_path, lambda m: None)
    output = (tmp_path / "train.jsonl").read_bytes()
    logs: list[str] = []
    second = mine(config, tmp_path, logs.append)
    assert (tmp_path / "train.jsonl").read_bytes() == output
    assert any("candidates read from" in line for line in logs)
    assert second["teacher"]["cache_hits"] == second["teacher"]["pairs"] == first["teacher"]["pairs"]
    assert set(second["eci"]) == {"dense"} and second["eci"] == first["eci"]


def test_bi_encoder_teacher_is_cosine(tmp_path, dataset_dir, tiny_bi_encoder):
    from sentence_transformers import SentenceTransformer

    mine(
        _config(
            dataset_dir,
            tiny_bi_encoder,
            strategy="teacher",
            candidates={"sources": ["bm25"], "bi_encoder": str(tiny_bi_encoder), "depth": 12},
        ),
        tmp_path,
        lambda m: None,
    )
    model = SentenceTransformer(str(tiny_bi_encoder), device="cpu")
    for line in _lines(tmp_path / "train.jsonl")[:3]:
        texts = [n["text"] for n in line["negatives"]]
        q = model.encode([line["query"]], normalize_embeddings=True)
        d = model.encode(texts, normalize_embeddings=True)
        np.testing.assert_allclose(
            [n["teacher_score"] for n in line["negatives"]], (d @ q.T).ravel(), atol=1e-5
        )
        scores = [n["teacher_score"] for n in line["negatives"]]
        assert scores == sorted(scores, reverse=True)  # teacher strategy: best teacher scores first


def test_bi_encoder_teacher_shows_one_bar_not_one_per_chunk(
    tmp_path, dataset_dir, tiny_bi_encoder, capfd, monkeypatch
):
    from retriever.mine import teacher

    monkeypatch.setattr(teacher, "CHUNK", 3)  # a dozen chunks on this dataset
    config = _config(
        dataset_dir, tiny_bi_encoder, candidates={"sources": ["bm25"], "bi_encoder": str(tiny_bi_encoder)}
    )
    mine(config, tmp_path, lambda m: None)
    err = capfd.readouterr().err
    teacher_bar = err.index("teacher (bi-encoder):   0%")  # the pairs bar, after the corpus encoding's
    assert err.count("teacher (bi-encoder):   0%") == 1
    assert "Batches" not in err[teacher_bar:]  # no query-encoding bar per chunk under it


def test_query_without_candidates_keeps_its_positive(tmp_path, dataset_dir, tiny_cross_encoder):
    config = _config(
        dataset_dir,
        cross_encoder=tiny_cross_encoder,
        strategy="bm25",
        candidates={"sources": ["bm25"], "depth": 5},
    )
    manifest = mine(config, tmp_path, lambda m: None)
    qx = next(line for line in _lines(tmp_path / "train.jsonl") if line["query_id"] == "qx")
    assert qx["negatives"] == [] and [p["id"] for p in qx["positives"]] == ["d9"]
    assert manifest["counts"]["queries_without_candidates"] == 1


def _judged(tmp_path, dataset_dir, tiny_cross_encoder, server, conflict="qrels_wins", out="mined", **judge):
    config = _config(
        dataset_dir,
        cross_encoder=tiny_cross_encoder,
        strategy="bm25",
        candidates={"sources": ["bm25"], "depth": 8},
        judge={
            "kind": "openai",
            "model": "judge",
            "base_url": server.base_url,
            "judge_depth": 4,
            "backoff_s": 0.01,
            "concurrency": 2,
            **judge,
        },
        positives={"conflict": conflict},
    )
    manifest = mine(config, tmp_path / out, lambda m: None)
    return manifest, _lines(tmp_path / out / "train.jsonl")


class _DeadServer:
    base_url = "http://127.0.0.1:9/v1"  # nothing listens on the discard port


def test_failed_judgements_stop_the_run_and_heal_on_rerun(tmp_path, dataset_dir, tiny_cross_encoder):
    with pytest.raises(RetrieverError, match=r"judge: \d+ of \d+ judgements failed .*rerun retries") as info:
        _judged(tmp_path, dataset_dir, tiny_cross_encoder, _DeadServer(), max_attempts=1, timeout_s=2)
    assert "\n" not in str(info.value)
    with FakeOpenAI() as server:
        manifest, _ = _judged(tmp_path, dataset_dir, tiny_cross_encoder, server)
    assert manifest["judge"]["failed"] == 0 and manifest["judge"]["ok"] == manifest["judge"]["pairs"]
    assert server.requests == manifest["judge"]["pairs"]  # every earlier failure was asked again


def test_llm_judge_adds_positives_never_negatives(tmp_path, dataset_dir, tiny_cross_encoder):
    with FakeOpenAI(faults=["500", "garbage"]) as server:
        manifest, lines = _judged(tmp_path, dataset_dir, tiny_cross_encoder, server)
    judged = {(q, p) for q, p in server.answered}
    assert all(count == 1 for count in server.answered.values()), [
        k for k, v in server.answered.items() if v > 1
    ]
    counters = manifest["judge"]["counters"]
    assert counters["judged"] == manifest["judge"]["pairs"] == len(judged) and counters["retries"] == 2
    assert counters["calls"] == server.requests and manifest["judge"]["failed"] == 0
    llm_total = 0
    for line in lines:
        llm = [p for p in line["positives"] if p["source"] == "llm"]
        llm_total += len(llm)
        assert all(grade_of(p["text"]) >= 2 and (line["query"], p["text"]) in judged for p in llm)
        assert not {p["id"] for p in line["positives"]} & {n["id"] for n in line["negatives"]}
        for negative in line["negatives"]:  # a negative the judge saw was graded below the threshold
            assert (line["query"], negative["text"]) not in judged or grade_of(negative["text"]) < 2
    assert llm_total == manifest["counts"]["positives_llm"] > 0


def test_conflict_policy_drop_removes_disputed_qrels_positives(tmp_path, dataset_dir, tiny_cross_encoder):
    with FakeOpenAI() as server:
        kept, kept_lines = _judged(tmp_path, dataset_dir, tiny_cross_encoder, server, "qrels_wins", "kept")
        dropped, drop_lines = _judged(tmp_path, dataset_dir, tiny_cross_encoder, server, "drop", "dropped")
    disputed = {
        p["id"]
        for line in kept_lines
        for p in line["positives"]
        if p["source"] == "qrels" and grade_of(p["text"]) < 2
    }
    assert disputed and kept["counts"]["conflicts"] == len(disputed) == dropped["counts"]["conflicts_dropped"]
    remaining = {p["id"] for line in drop_lines for p in line["positives"] if p["source"] == "qrels"}
    assert not remaining & disputed


def test_kill_mid_judging_then_rerun_repeats_no_call(tmp_path, dataset_dir, tiny_cross_encoder):
    def config(server):
        return _config(
            dataset_dir,
            cross_encoder=tiny_cross_encoder,
            strategy="bm25",
            candidates={"sources": ["bm25"], "depth": 8},
            judge={
                "kind": "openai",
                "model": "judge",
                "base_url": server.base_url,
                "judge_depth": 3,
                "concurrency": 1,
            },
        )

    script = (
        "import sys; from retriever.mine.config import MineConfig; from retriever.mine.pipeline import mine; "
        "mine(MineConfig.model_validate_json(sys.argv[1]), sys.argv[2], lambda m: None)"
    )
    out = tmp_path / "killed"
    with FakeOpenAI(hold_after=5) as server:
        process = subprocess.Popen(
            [sys.executable, "-c", script, config(server).model_dump_json(), str(out)],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 180
        while server.requests < 6 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.requests == 6, (
            process.stderr.read().decode()[-2000:] if process.poll() is not None else ""
        )
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        process.stderr.close()
        assert not (out / "train.jsonl").exists()
        server.hold_after = None
        server.release()
        manifest = mine(config(server), out, lambda m: None)
        assert set(server.answered.values()) == {1}  # nothing answered was asked again
        assert manifest["judge"]["counters"]["cache_hits"] == 5
        assert sum(server.answered.values()) == manifest["judge"]["pairs"]
    with FakeOpenAI() as fresh:
        mine(config(fresh), tmp_path / "clean", lambda m: None)
    assert (out / "train.jsonl").read_bytes() == (tmp_path / "clean" / "train.jsonl").read_bytes()


def test_bad_input_is_one_line_error(tmp_path, dataset_dir, tiny_bi_encoder):
    with pytest.raises(InputError, match="model path does not exist|cannot load teacher"):
        mine(
            _config(dataset_dir, tiny_bi_encoder, cross_encoder=tmp_path / "nope", strategy="bm25"), tmp_path
        )
    broken = tmp_path / "broken-ce"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(InputError, match="cannot load teacher") as info:
        mine(_config(dataset_dir, tiny_bi_encoder, cross_encoder=broken, strategy="bm25"), tmp_path / "o")
    assert "\n" not in str(info.value)
    with pytest.raises(InputError, match="bi-encoder without a trained scoring head.*--bi-encoder") as info:
        mine(
            _config(dataset_dir, tiny_bi_encoder, cross_encoder=tiny_bi_encoder, strategy="bm25"),
            tmp_path / "o1",
        )
    assert "\n" not in str(info.value) and not (tmp_path / "o1").exists()  # refused before any work
    with pytest.raises(InputError, match="unknown split"):
        mine(_config(dataset_dir, tiny_bi_encoder, split="test", strategy="bm25"), tmp_path / "o2")
    with pytest.raises(InputError, match="bi-encoder"):
        OPTIONS.build(
            {"data": str(dataset_dir), "strategy": "dense", "teacher": "ce"}, config=None, overrides=[]
        )
    with pytest.raises(InputError, match="no teacher"):
        OPTIONS.build({"data": str(dataset_dir), "strategy": "auto"}, config=None, overrides=[])
    # auto chooses among what the given candidates and teacher allow: no bi-encoder, no dense strategies
    lexical = OPTIONS.build(
        {"data": str(dataset_dir), "candidates": ["bm25"], "teacher": "ce"}, config=None, overrides=[]
    )
    assert lexical.strategies() == ("bm25", "teacher") and lexical.sources() == ["bm25"]
    with pytest.raises(InputError, match="judge"):
        OPTIONS.build(
            {"data": str(dataset_dir), "judge": "openai", "bi_encoder": "x"}, config=None, overrides=[]
        )


def test_streamed_mining_writes_the_same_bytes_on_scifact(
    shared_data, tiny_bi_encoder, tmp_path, monkeypatch
):
    """Real data, every strategy: searching 7 queries at a time (9 chunks) writes byte for byte the files of
    one chunk, and the same ECI; the teacher's 2,048-pair chunks split queries across them in both runs."""
    from retriever.mine import candidates

    monkeypatch.setenv("RETRIEVER_CACHE_HOME", str(tmp_path / "cache"))
    config = MineConfig.model_validate(
        {
            "data": str(shared_data / "scifact"),
            "split": "train",
            "max_queries": 60,
            "candidates": {"sources": ["bm25", "dense"], "depth": 30, "bi_encoder": str(tiny_bi_encoder)},
            "negatives": {"count": 8, "range_min": 2},
        }
    )
    whole = mine(config, tmp_path / "whole")
    monkeypatch.setattr(candidates, "QUERY_CHUNK", 7)
    streamed = mine(config, tmp_path / "streamed")
    files = ["train.jsonl", *(f"strategies/{s}.jsonl" for s in ("bm25", "dense", "hybrid", "teacher"))]
    for name in files:
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "streamed" / name).read_bytes(), name
    assert len(read_training_file(tmp_path / "whole" / "train.jsonl")) == 60
    assert whole["eci"] == streamed["eci"] and whole["counts"] == streamed["counts"]
