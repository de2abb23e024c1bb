"""``retriever eval`` end to end through typer: outputs, report schema, run files and one-line errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from retriever.cli import app
from retriever.eval.config import EvalConfig
from retriever.provenance import library_versions
from tests.test_eval_runner import write_beir

runner = CliRunner()


@pytest.fixture
def beir(tmp_path):
    return write_beir(tmp_path / "tinybeir")


def invoke(*args: str, tmp_path):
    return runner.invoke(app, ["eval", *args, "--cache-dir", str(tmp_path / "cache"), "--device", "cpu"])


def check_run_file(path, tag):
    lines = [line.split() for line in path.read_text().splitlines()]
    assert lines and all(len(fields) == 6 and fields[1] == "Q0" and fields[5] == tag for fields in lines)
    by_query: dict[str, list[tuple[int, float]]] = {}
    for qid, _, _, rank, score, _ in lines:
        by_query.setdefault(qid, []).append((int(rank), float(score)))
    for ranks in by_query.values():
        assert [rank for rank, _ in ranks] == list(range(1, len(ranks) + 1))
        assert all(a[1] >= b[1] for a, b in zip(ranks, ranks[1:], strict=False))
    return by_query


def test_two_systems_write_a_comparison(beir, tmp_path, tiny_bi_encoder):
    out = tmp_path / "out"
    result = invoke(
        "-m", str(tiny_bi_encoder), "-d", str(beir), "-r", "dense", "-r", "bm25", "-o", str(out),
        "--k", "5", "--bm25-k1", "0.9", "--title-separator", ". ", tmp_path=tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "nDCG@10" in result.output and "dense" in result.output and "bm25" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["schema"] == "retriever.eval.report/1"
    assert [s["name"] for s in report["systems"]] == ["dense", "bm25"]
    assert report["metrics"] == report["systems"][0]["metrics"]
    assert set(report["metrics"]) == {"nDCG@10", "Recall@100", "MAP@100", "MRR@10"}
    assert report["dataset"]["name"] == "tinybeir" and report["dataset"]["split"] == "test"
    assert len(report["dataset"]["fingerprint"]) == 16
    assert report["dataset"]["counts"]["queries"] == 4
    # every setting is echoed, defaults included, and the CLI values took effect
    assert set(report["config"]) == set(EvalConfig.model_fields)
    assert report["config"]["bm25"]["k1"] == 0.9 and report["config"]["bm25"]["b"] == 0.75
    assert (
        report["config"]["encoder"]["title_separator"] == ". " == report["config"]["bm25"]["title_separator"]
    )
    assert report["config"]["index"]["type"] == "flat" and report["config"]["k"] == 5
    assert report["versions"] == library_versions() and report["versions"]["faiss-cpu"]
    assert report["systems"][0]["encoder"]["dimension"] == 32
    for system in ("dense", "bm25"):
        queries = check_run_file(out / system / "run.trec", system)
        assert set(queries) <= {"q1", "q2", "q3", "q4"} and all(len(v) <= 5 for v in queries.values())
    markdown = (out / "report.md").read_text()
    assert "| system | nDCG@10 | Recall@100 | MAP@100 | MRR@10 |" in markdown
    # bm25 is compared with dense on the same queries: the paired mean is the difference of the means
    assert "vs_first" not in report["systems"][0]
    versus = report["systems"][1]["vs_first"]
    for metric, difference in versus.items():
        gap = report["systems"][1]["metrics"][metric] - report["systems"][0]["metrics"][metric]
        assert difference["mean"] == pytest.approx(gap, abs=1e-9)
        assert difference["low"] <= difference["mean"] <= difference["high"] and 0 <= difference["p"] <= 1
    assert "## Paired differences from dense" in markdown


def test_single_system_writes_run_trec_at_the_top(beir, tmp_path):
    out = tmp_path / "single"
    result = invoke("-d", str(beir), "-r", "bm25", "-o", str(out), "--metric", "P@1", tmp_path=tmp_path)
    assert result.exit_code == 0, result.output
    check_run_file(out / "run.trec", "bm25")
    report = json.loads((out / "report.json").read_text())
    assert list(report["metrics"]) == ["P@1"] and report["systems"][0]["run_file"] == "run.trec"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-r", "sparse"], "retrievers.0"),
        (["-r", "bm25", "--index", "annoy"], "index.type"),
        (["-r", "dense"], "need at least one model"),
        (["-m", "/no/such/model"], "model path does not exist"),
        (["-r", "bm25", "--metric", "nDCG"], "nDCG"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(beir, tmp_path, args, message):
    result = invoke("-d", str(beir), *args, tmp_path=tmp_path)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]
    assert "Traceback" not in result.output


def test_missing_dataset_is_one_line_error(tmp_path):
    result = invoke("-d", str(tmp_path / "nothing-here"), "-r", "bm25", tmp_path=tmp_path)
    assert result.exit_code == 2 and result.output.startswith("error:")
