"""`retriever push`: the dry-run folder is a loadable model with a valid card; uploads go through HfApi."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from retriever.cli import app
from retriever.eval.report import SCHEMA
from retriever.train.trainer import CONFIG_FILE, LOG_FILE


@pytest.fixture
def checkpoint(tiny_bi_encoder, tmp_path):
    """The tiny model plus what a trainer leaves next to it: config, loss log, resume state."""
    folder = tmp_path / "checkpoint"
    shutil.copytree(tiny_bi_encoder, folder)
    (folder / CONFIG_FILE).write_text(
        json.dumps({"model": "sentence-transformers/all-MiniLM-L6-v2", "loss": "lsepair", "lr": 3e-5})
    )
    log = [{"step": 1, "loss": 2.5, "lr": 3e-5}, {"step": 2, "eval_ndcg": 0.1}, {"step": 3, "loss": 1.25}]
    (folder / LOG_FILE).write_text("".join(json.dumps(r) + "\n" for r in log))
    (folder / "optimizer.pt").write_bytes(b"state")
    (folder / "checkpoints" / "checkpoint-3").mkdir(parents=True)
    (folder / "checkpoints" / "checkpoint-3" / "trainer_state.pt").write_bytes(b"state")
    return folder


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, ["push", *map(str, args)], env=env)


def test_dry_run_folder_loads_and_card_has_eval_results(checkpoint, tmp_path):
    from huggingface_hub import ModelCard
    from sentence_transformers import SentenceTransformer

    from tests.test_index_dir import write_dataset

    data = write_dataset(tmp_path / "scifact")
    evaluation = CliRunner().invoke(
        app,
        [
            "eval",
            "-m",
            str(checkpoint),
            "-d",
            str(data),
            "-r",
            "dense",
            "-r",
            "bm25",
            "-o",
            str(tmp_path / "ev"),
        ],
    )
    assert evaluation.exit_code == 0, evaluation.output
    report = tmp_path / "ev" / "report.json"
    dense = next(s for s in json.loads(report.read_text())["systems"] if s["retriever"] == "dense")
    out = tmp_path / "upload"
    result = run(checkpoint, "--repo-id", "me/tiny", "--dry-run", "--output", out, "--report", report)
    assert result.exit_code == 0, result.output

    model = SentenceTransformer(str(out), device="cpu")
    assert model.encode(["a protein study"]).shape == (1, model.get_embedding_dimension())
    assert not (out / "optimizer.pt").exists() and not (out / "checkpoints").exists()
    assert (out / "train_config.json").exists()

    card = ModelCard.load(out / "README.md")
    data = card.data.to_dict()
    assert data["library_name"] == "sentence-transformers"
    assert data["pipeline_tag"] == "sentence-similarity"
    assert data["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert data["license"] == "apache-2.0"
    metrics = {r.metric_type: r.metric_value for r in card.data.eval_results}  # bm25 system left out
    assert metrics == {
        f"{name.lower().replace('@', '_at_')}": round(v, 5) for name, v in dense["metrics"].items()
    }
    assert "ndcg_at_10" in metrics
    assert {r.dataset_type for r in card.data.eval_results} == {"scifact"}
    assert {r.dataset_split for r in card.data.eval_results} == {"test"}
    assert {r.task_name for r in card.data.eval_results} == {"Retrieval (dense)"}
    assert "`lsepair`" in card.text and "1.2500 (step 3)" in card.text
    assert f"{dense['metrics']['nDCG@10']:.4f}" in card.text
    assert "Full Model Architecture" in card.text  # the sentence-transformers card is kept, ours appended
    assert {"sentence-transformers", "retrieval"} <= set(data["tags"])


def test_card_without_an_existing_readme_has_usage_and_no_model_index(checkpoint, tmp_path):
    from huggingface_hub import ModelCard

    (checkpoint / "README.md").unlink()
    out = tmp_path / "upload"
    result = run(checkpoint, "--repo-id", "me/tiny", "--dry-run", "--output", out, "--base-model", "org/base")
    assert result.exit_code == 0, result.output
    card = ModelCard.load(out / "README.md")
    assert card.data.base_model == "org/base" and card.data.eval_results is None
    assert 'SentenceTransformer("me/tiny")' in card.text and "# tiny" in card.text


def test_report_systems(tmp_path, checkpoint):
    from retriever.hub import report_systems

    other = {"retriever": "dense", "metrics": {"nDCG@10": 0.1}, "encoder": {"source": str(tmp_path)}}
    mine = {"retriever": "hybrid", "metrics": {"nDCG@10": 0.2}, "encoder": {"source": str(checkpoint)}}
    bm25 = {"retriever": "bm25", "metrics": {"nDCG@10": 0.3}, "encoder": None}
    dataset = {"name": "x", "split": "test"}
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"schema": SCHEMA, "systems": [bm25, other, mine], "dataset": dataset}))
    assert [s["metrics"] for s in report_systems(path, checkpoint)] == [{"nDCG@10": 0.2}]
    assert [s["metrics"] for s in report_systems(path)] == [{"nDCG@10": 0.1}, {"nDCG@10": 0.2}]
    assert all(s["dataset"] == dataset for s in report_systems(path))


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ({"schema": "retriever.eval.report/2", "systems": []}, "schema 'retriever.eval.report/2'"),
        ({"metrics": {"nDCG@10": 0.5}, "config": {"retriever": "dense"}}, "no schema"),
        ([{"metrics": {"nDCG@10": 0.5}}], "no schema"),
        ({"schema": SCHEMA, "systems": [{"metrics": {}}]}, "field 'systems[0].retriever'"),
        ({"schema": SCHEMA, "systems": {"dense": {}}}, "field 'systems'"),
    ],
)
def test_reports_of_another_schema_or_shape_are_one_line_errors(checkpoint, tmp_path, report, message):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    result = run(checkpoint, "--repo-id", "me/x", "--dry-run", "--output", tmp_path / "o", "--report", path)
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_upload_calls_hub_with_the_staged_folder(checkpoint, tmp_path, monkeypatch):
    import huggingface_hub

    calls = {}

    class FakeApi:
        def __init__(self, token):
            calls["token"] = token

        def create_repo(self, repo_id, **kwargs):
            calls["create"] = (repo_id, kwargs)

        def upload_folder(self, repo_id, folder_path, **kwargs):
            from pathlib import Path

            calls["files"] = sorted(p.name for p in Path(folder_path).iterdir())
            return type("Commit", (), {"commit_url": f"https://hf.co/{repo_id}/commit/1"})()

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    secret = "hf_secretsecretsecret"
    result = run(checkpoint, "--repo-id", "me/tiny", "--private", env={"HF_TOKEN": secret})
    assert result.exit_code == 0, result.output
    assert calls["token"] == secret and secret not in result.output
    assert calls["create"] == ("me/tiny", {"private": True, "exist_ok": True, "repo_type": "model"})
    assert "README.md" in calls["files"] and "modules.json" in calls["files"]
    assert "optimizer.pt" not in calls["files"]
    assert "https://hf.co/me/tiny/commit/1" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--repo-id", "no-owner", "--dry-run", "--output", "{tmp}/o"], "OWNER/NAME"),
        (["--repo-id", "me/x", "--dry-run"], "--dry-run needs --output"),
        (
            ["--repo-id", "me/x", "--dry-run", "--output", "{tmp}/o", "--report", "{tmp}/bad.json"],
            "bad.json:1",
        ),
        (["--repo-id", "me/x"], "no Hugging Face token"),
    ],
)
def test_bad_input_is_one_line(checkpoint, tmp_path, monkeypatch, args, message):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    (tmp_path / "bad.json").write_text("{not json")
    result = run(checkpoint, *[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_not_a_checkpoint(tmp_path):
    result = run(tmp_path, "--repo-id", "me/x", "--dry-run", "--output", tmp_path / "o")
    assert result.exit_code == 2 and "modules.json" in result.output
