"""The scale benchmark's synthetic corpus (``eval/make_synthetic_corpus.py``): seeded to the byte, readable as
BEIR by :mod:`retriever.data`, shaped like its sources, and its queries' positives found by BM25."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from retriever.data.beir import read_beir
from retriever.retrieval.bm25 import BM25Index

SCRIPT = Path(__file__).resolve().parents[1] / "eval" / "make_synthetic_corpus.py"
FILES = ("corpus.jsonl", "queries.jsonl", "qrels/train.tsv", "qrels/test.tsv")


def _make(shared_data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    sources = ["--source", str(shared_data / "scifact"), "--source", str(shared_data / "nfcorpus")]
    args = ["--passages", "1500", "--train-queries", "40", "--test-queries", "60", *sources, *extra]
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--output", str(out)], capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def corpus_dir(shared_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic") / "seed0"
    assert _make(shared_data, out).returncode == 0
    return out


def test_same_seed_gives_the_same_bytes_and_another_seed_another_corpus(shared_data, corpus_dir, tmp_path):
    assert _make(shared_data, tmp_path / "again").returncode == 0
    assert _make(shared_data, tmp_path / "seed1", "--seed", "1").returncode == 0
    for name in FILES:
        assert (tmp_path / "again" / name).read_bytes() == (corpus_dir / name).read_bytes(), name
    assert (tmp_path / "seed1" / "corpus.jsonl").read_bytes() != (corpus_dir / "corpus.jsonl").read_bytes()


def test_beir_readable_with_one_to_three_known_positives_per_query(corpus_dir):
    train, test = read_beir(corpus_dir, "train"), read_beir(corpus_dir, "test")
    assert len(test.corpus) == 1500 and test.corpus.ids[:2] == ["p0", "p1"]
    assert len(train.qrels) == 40 and len(test.qrels) == 60 and not set(train.qrels) & set(test.qrels)
    rows = (corpus_dir / "qrels" / "test.tsv").read_text().splitlines()[1:]
    assert sum(map(len, test.qrels.values())) == len(rows)  # no positive dropped as an unknown document
    assert {len(p) for p in test.qrels.values()} | {len(p) for p in train.qrels.values()} == {1, 2, 3}
    record = json.loads((corpus_dir / "synthetic.json").read_text())
    lengths = np.array([len(text.split()) for text in test.corpus.texts])
    assert record["mean_passage_words"] == pytest.approx(lengths.mean(), abs=0.05)
    assert 100 < lengths.mean() < 400 and lengths.min() >= 1 and record["vocabulary"] > 10_000
    assert all(len(text.split()) >= 2 for text in test.queries.values())


def test_bm25_finds_a_positive_of_most_queries_in_its_top_10(corpus_dir):
    data = read_beir(corpus_dir, "test")
    run = BM25Index.build(data.corpus).search(data.judged_queries(), 10)
    found = [bool(set(run.get(qid, {})) & set(positives)) for qid, positives in data.qrels.items()]
    assert np.mean(found) >= 0.7


def test_sizes_it_cannot_honour_are_one_line_errors(shared_data, tmp_path):
    result = _make(shared_data, tmp_path / "bad", "--passages", "0")
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0 and "passage" in result.stderr
