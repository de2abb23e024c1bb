"""`retriever run`: a whole recipe (mine -> train -> eval -> index -> serve) on a tiny dataset and model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from retriever.cli import app
from tests.dataset_files import jsonl, write_beir
from tests.tiny_models import WORDS


def synthetic_beir(root: Path) -> Path:
    """40 documents, 12 train queries with 1-2 positives each, 6 test queries; words from the tiny vocabulary."""
    rng = np.random.default_rng(0)
    docs = [" ".join(rng.choice(WORDS, size=12)) for _ in range(40)]
    corpus = [{"_id": f"d{i}", "title": "", "text": text} for i, text in enumerate(docs)]
    queries, train, test = [], ["query-id\tcorpus-id\tscore"], ["query-id\tcorpus-id\tscore"]
    for q in range(18):
        positives = [q, q + 18] if q % 3 == 0 else [q]
        queries.append({"_id": f"q{q}", "text": " ".join(docs[q].split()[:4])})
        rows = [f"q{q}\td{p}\t1" for p in positives]
        (train if q < 12 else test).extend(rows)
    return write_beir(
        root, corpus=jsonl(corpus), queries=jsonl(queries), qrels={"train": train, "test": test}
    )


def test_a_recipe_runs_every_stage_end_to_end(tmp_path, tiny_bi_encoder, monkeypatch):
    monkeypatch.setenv("RETRIEVER_CACHE_HOME", str(tmp_path / "cache"))
    data = synthetic_beir(tmp_path / "tiny")
    out = tmp_path / "run"
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"""
name: tiny
output: {out}
mine:
  data: {data}
  candidates: {{sources: [bm25], depth: 10, bi_encoder: {tiny_bi_encoder}}}
  negatives: {{count: 2}}
train:
  model: {tiny_bi_encoder}
  loss: lsepair
  max_steps: 2
  batch_size: 4
  lr: 1.0e-3
eval:
  data: {data}
  retrievers: [bm25, dense]
  models: [{tiny_bi_encoder}, "{{trained}}"]
index:
  data: {data}
serve:
  queries: ["{" ".join(WORDS[:3])}", "{" ".join(WORDS[5:8])}"]
  k: 2
""",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["run", str(recipe)])
    assert result.exit_code == 0, result.output

    manifest = json.loads((out / "mined" / "manifest.json").read_text())
    assert manifest["counts"]["examples"] == 12 and set(manifest["eci"]) == {
        "bm25",
        "dense",
        "teacher",
        "hybrid",
    }
    mined = [json.loads(line) for line in (out / "mined" / "train.jsonl").read_text().splitlines()]
    assert (
        sum(len(example["positives"]) > 1 for example in mined) == 4
    )  # multi-positive queries survive mining

    report = json.loads((out / "eval" / "report.json").read_text())
    systems = [system["name"] for system in report["systems"]]
    assert len(systems) == 3 and systems[0] == "bm25"
    assert report["dataset"]["counts"]["queries"] == 6  # the test split, not train
    trained_dense = report["systems"][2]
    assert trained_dense["model"] != report["systems"][1]["model"]

    index_manifest = json.loads((out / "index" / "manifest.json").read_text())
    assert index_manifest["model"]["source"] == str(out / "model")
    assert "POST" in result.output and "(chosen)" in result.output  # served hits and the ECI table are shown

    finished = (out / "model" / "training_complete.json").stat().st_mtime_ns
    indexed = (out / "index" / "manifest.json").read_text()
    rerun = CliRunner().invoke(app, ["run", str(recipe)])
    assert rerun.exit_code == 0, rerun.output  # make demo twice: the finished training is reused
    assert "reused if its settings and data are unchanged" in rerun.output
    assert (out / "model" / "training_complete.json").stat().st_mtime_ns == finished
    rebuilt = (out / "index" / "manifest.json").read_text()  # the index is rebuilt in place, from the cache
    assert rebuilt != indexed and json.loads(rebuilt)["model"] == json.loads(indexed)["model"]
    assert sorted(p.name for p in out.iterdir()) == ["eval", "index", "mined", "model"]  # nothing left beside

    served_again = CliRunner().invoke(app, ["run", str(recipe), "--only", "serve"])  # the index section
    assert served_again.exit_code == 0, served_again.output  # names the directory the serve stage asks
    assert "POST" in served_again.output and "== train" not in served_again.output
