"""Run the real CLI over a table of bad inputs and count what a user would see go wrong.

Each probe is one ``retriever ...`` command in a subprocess (a fresh interpreter, as a user runs it) with a time
limit; it passes when the command exits with the expected code (2 for bad input, 0 for accepted-with-warning
cases) and prints no Python traceback. The table holds the inputs of issue #14 (output paths, bad files, bad
values, recipes) built in a temporary folder from a small BEIR fixture. Prints one line per failure and the totals:
probes, tracebacks (must be 0), wrong exit codes (must be 0), hangs (must be 0).

    HF_HUB_OFFLINE=1 .venv/bin/python eval/probe_bad_inputs.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TIMEOUT_S = 120


def fixture(root: Path) -> dict[str, Path]:
    """A small BEIR folder, a training file, a blocking file and bad variants of each."""
    data = root / "beir"
    (data / "qrels").mkdir(parents=True)
    docs = [
        {"_id": f"d{i}", "title": "", "text": f"protein {i} cell virus study number {i}"} for i in range(12)
    ]
    (data / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    queries = [{"_id": f"q{i}", "text": f"protein {i}"} for i in range(4)] + [{"_id": "q9", "text": " "}]
    (data / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    rows = ["query-id\tcorpus-id\tscore"] + [f"q{i}\td{i}\t1" for i in range(4)] + ["q9\td9\t-1"]
    (data / "qrels" / "train.tsv").write_text("\n".join(rows) + "\n")
    (data / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n")
    stop = root / "stopwords"
    (stop / "qrels").mkdir(parents=True)
    (stop / "corpus.jsonl").write_text(
        '{"_id": "a", "text": "the of and"}\n{"_id": "b", "text": "is a the"}\n'
    )
    (stop / "queries.jsonl").write_text('{"_id": "q", "text": "the"}\n')
    (stop / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq\ta\t1\n")
    good = {"query_id": "q1", "query": "protein", "positives": [{"id": "d1", "text": "protein cell"}]}
    train = root / "train.jsonl"
    train.write_text(json.dumps(good) + "\n")
    latin1 = root / "latin1.jsonl"
    latin1.write_bytes(
        json.dumps(good).replace("protein", "caf\udce9").encode("utf-8", "surrogateescape") + b"\n"
    )
    blocker = root / "blocker"
    blocker.write_text("a file")
    (root / "empty.yaml").write_text("")
    (root / "dupkey.yaml").write_text("name: x\ntrain: {loss: lsepair}\ntrain: {loss: jointlh}\n")
    (root / "focal.yaml").write_text(
        f"name: x\nmine: {{data: {data}, strategy: bm25}}\ntrain: {{loss: focal}}\n"
    )
    return {"data": data, "stop": stop, "train": train, "latin1": latin1, "blocker": blocker, "root": root}


def probes(f: dict[str, Path]) -> list[tuple[str, list[str], int]]:
    """(name, arguments, expected exit code)."""
    model = "sentence-transformers/all-MiniLM-L6-v2"
    out = f["blocker"] / "sub"
    d, t, r = str(f["data"]), str(f["train"]), f["root"]
    return [
        ("eval output is a file", ["eval", "--data", d, "-r", "bm25", "--output", str(f["blocker"])], 2),
        ("eval output under a file", ["eval", "--data", d, "-r", "bm25", "--output", str(out)], 2),
        ("mine out under a file", ["mine", "--data", d, "--out", str(out), "--bi-encoder", model], 2),
        ("train output under a file", ["train", "--data", t, "--output", str(out)], 2),
        ("convert output under a file", ["convert", "--data", d, "--output", str(out / "x.jsonl")], 2),
        ("index out is a file", ["index", "--model", model, "--data", d, "--out", str(f["blocker"])], 2),
        ("push output under a file", ["push", model, "--repo-id", "me/m", "--dry-run", "--output", str(out)], 2),
        ("training file not UTF-8", ["train", "--data", str(f["latin1"]), "--output", str(r / "o1")], 2),
        ("unknown loss", ["train", "--data", t, "--loss", "focal", "--output", str(r / "o2")], 2),
        ("flag and --set disagree", ["train", "--data", t, "--max-positives", "3", "--set", "max_positives=abc"], 2),
        ("teacher is a bi-encoder", ["mine", "--data", d, "--out", str(r / "m1"), "--teacher", model], 2),
        ("hf judge is a BERT", ["judge", "--data", d, "--judge", "hf", "--judge-model", model, "--output", str(r / "j")], 2),
        ("serve log level", ["serve", str(r / "no-index"), "--log-level", "loud"], 2),
        ("all-stopword BM25 corpus", ["eval", "--data", str(f["stop"]), "-r", "bm25"], 2),
        ("empty recipe", ["run", str(r / "empty.yaml")], 2),
        ("duplicate YAML key", ["run", str(r / "dupkey.yaml")], 2),
        ("unknown loss in a recipe", ["run", str(r / "focal.yaml")], 2),
        ("convert of the test split warns", ["convert", "--data", d, "--split", "test", "--output", str(r / "t.jsonl")], 0),
        ("empty query and negative grade warn", ["eval", "--data", d, "-r", "bm25"], 0),
    ]  # fmt: skip


def main() -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    tracebacks = wrong = hangs = 0
    with tempfile.TemporaryDirectory() as tmp:
        table = probes(fixture(Path(tmp)))
        for name, args, expected in table:
            command = [sys.executable, "-m", "retriever.cli", *args]
            try:
                result = subprocess.run(
                    command, capture_output=True, text=True, timeout=TIMEOUT_S, env=env, cwd=tmp
                )
            except subprocess.TimeoutExpired:
                hangs += 1
                print(f"HANG      {name}")
                continue
            output = result.stdout + result.stderr
            if "Traceback (most recent call last)" in output:
                tracebacks += 1
                print(f"TRACEBACK {name}: {output.strip().splitlines()[-1]}")
            if result.returncode != expected:
                wrong += 1
                print(f"EXIT {result.returncode} (want {expected}) {name}: {output.strip()[-200:]}")
    print(f"probes {len(table)}, tracebacks {tracebacks}, wrong exit codes {wrong}, hangs {hangs}")
    sys.exit(1 if tracebacks or wrong or hangs else 0)


if __name__ == "__main__":
    main()
