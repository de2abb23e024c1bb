"""``retriever mine`` on the command line: a run prints the ECI table and writes the files; recipes and
``--set`` overrides compose with options; bad input is one ``error:`` line and exit code 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from retriever.cli import app
from retriever.mine.command import OPTIONS
from tests.test_mine_pipeline import _write_dataset


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    return _write_dataset(tmp_path_factory.mktemp("data") / "tiny")


@pytest.fixture(autouse=True)
def _offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("RETRIEVER_CACHE_HOME", str(tmp_path / "embeddings"))


def test_mine_command_runs_and_prints_the_eci_table(tmp_path, dataset_dir, tiny_cross_encoder):
    out = tmp_path / "mined"
    args = [
        "mine",
        "--data",
        str(dataset_dir),
        "--output",
        str(out),
        "--candidates",
        "bm25",
        "--strategy",
        "bm25",
        "--teacher",
        str(tiny_cross_encoder),
        "--negatives",
        "2",
        "--depth",
        "5",
        "--set",
        "negatives.seed=3",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "bm25" in result.output and "(chosen)" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["negatives"]["count"] == 2 and manifest["config"]["negatives"]["seed"] == 3
    assert f"wrote {manifest['counts']['examples']} examples" in result.output


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ["--data", "/nonexistent/dir", "--bi-encoder", "x", "--strategy", "bm25"],
            "no such dataset directory",
        ),
        (["--data", "DATA", "--strategy", "dense"], "bi-encoder"),
        (["--data", "DATA", "--judge", "openai", "--bi-encoder", "x"], "needs a model"),
        (["--data", "DATA", "--judge-base-url", "localhost:8000/v1", "--bi-encoder", "x"], "start with http"),
        (["--data", "DATA", "--negatives", "-1", "--bi-encoder", "x"], "negatives.count"),
        (["--data", "DATA", "--set", "negatives.colour=red", "--bi-encoder", "x"], "negatives.colour"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(tmp_path, dataset_dir, extra, message):
    extra = [str(dataset_dir) if part == "DATA" else part for part in extra]
    result = CliRunner().invoke(app, ["mine", "--output", str(tmp_path / "o"), *extra])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]


def test_recipe_then_overrides_then_options(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("mine:\n  data: d\n  candidates: {bi_encoder: m, depth: 50}\n  negatives: {count: 3}\n")
    config = OPTIONS.build({"depth": 20}, config=recipe, overrides=["negatives.count=5", "strategy=teacher"])
    assert (config.candidates.depth, config.negatives.count, config.strategy) == (20, 5, "teacher")
    assert config.candidates.bi_encoder == "m" and config.sources() == ["bm25"]
