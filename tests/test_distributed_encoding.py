"""Corpus encoding sharded over torchrun ranks (gloo, 2 CPU processes) equals one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.dataset_files import jsonl, write_beir, write_lines

ROOT = Path(__file__).parents[1]
WORDS = "protein cell gene vitamin cancer risk trial dose sleep heart blood brain diet fat sugar".split()


def corpus_folder(root: Path) -> Path:
    """60 passages (6 cache shards of 10 rows), 6 queries with two relevant passages each."""
    docs = [
        {"_id": f"d{i}", "title": WORDS[i % 15], "text": " ".join(WORDS[(i * j) % 15] for j in range(1, 9))}
        for i in range(60)
    ]
    queries = [{"_id": f"q{i}", "text": f"{WORDS[i]} {WORDS[i + 3]}"} for i in range(6)]
    qrels = ["query-id\tcorpus-id\tscore"] + [f"q{i}\td{i + k * 15}\t1" for i in range(6) for k in (0, 1)]
    write_beir(root, corpus=jsonl(docs), queries=jsonl(queries), qrels={})
    write_lines(root / "qrels" / "test.tsv", qrels)
    return root


def run(launcher: list[str], args: list[str], cache: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "RETRIEVER_CACHE_HOME": str(cache),
        "RETRIEVER_CACHE_SHARD_ROWS": "10",
    }
    command = [sys.executable, *launcher, "-m", "retriever.cli", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_torchrun_eval_and_index_equal_one_process(tiny_bi_encoder, tmp_path):
    """Both ranks encode shards of the one cache; rank 0 alone writes: embeddings, run file, metrics and
    the saved index equal a single process's."""
    data = corpus_folder(tmp_path / "beir")
    torchrun = ["-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533"]
    outputs = {}
    for label, launcher in (("one", []), ("two", torchrun)):
        cache = tmp_path / f"cache-{label}"
        out = tmp_path / f"eval-{label}"
        common = ["--data", str(data), "--model", str(tiny_bi_encoder), "--device", "cpu"]
        result = run(launcher, ["eval", *common, "-r", "dense", "--output", str(out)], cache)
        if launcher:  # each rank encoded half of the 6 shards
            assert "corpus shards (rank 0 of 2): 100%|██████████| 3/3" in result.stderr
            assert "corpus shards (rank 1 of 2): 100%|██████████| 3/3" in result.stderr
        run(launcher, ["index", *common, "--output", str(tmp_path / f"index-{label}")], cache)
        (vectors,) = cache.rglob("embeddings.npy")
        assert not list(cache.rglob("shard-*.npy"))  # assembled, shards dropped
        outputs[label] = {
            "vectors": np.load(vectors),
            "run": (out / "run.trec").read_text(),
            "metrics": json.loads((out / "report.json").read_text())["systems"][0]["metrics"],
            "index": (tmp_path / f"index-{label}" / "manifest.json").is_file(),
        }
    one, two = outputs["one"], outputs["two"]
    assert one["vectors"].shape == (60, two["vectors"].shape[1])
    np.testing.assert_array_equal(one["vectors"], two["vectors"])
    assert one["run"] == two["run"] and one["run"]
    assert one["metrics"] == two["metrics"]
    assert one["index"] and two["index"]
