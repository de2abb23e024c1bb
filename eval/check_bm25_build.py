"""BM25 built a chunk at a time equals bm25s's own index, in less memory (issue #13).

``retriever.retrieval.bm25`` builds bm25s's score matrix itself, a chunk of documents at a time
(:mod:`retriever.retrieval.bm25_matrix`), where ``bm25s.BM25.index`` takes every document's token list at once.
This script builds both on one BEIR folder, each in its own process (peak RSS from ``os.wait4``, the corpus
loaded from the store in both), searches the test queries at depth 100 and checks that the two runs are equal:
the same documents with the same scores per query (so the same rankings).

    python eval/check_bm25_build.py --data eval/output/scale/synthetic-1000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEPTH = 100
WAYS = ("bm25s", "chunked")


def child(way: str, data: str, out: Path) -> None:
    from retriever.data.loader import load_dataset
    from retriever.retrieval import bm25
    from retriever.retrieval.bm25 import BM25Index
    from retriever.retrieval.config import BM25Config

    dataset = load_dataset(data, "test")
    if way == "bm25s":  # bm25s as its users call it: every document's token list, indexed at once
        bm25._Bm25s.index = lambda self, texts: self.engine.index(
            bm25.indexable_tokens(texts, self.config), show_progress=False
        )
    started = time.perf_counter()
    index = BM25Index.build(dataset.corpus, BM25Config())
    seconds = time.perf_counter() - started
    run = index.search(dataset.judged_queries(), DEPTH)
    out.write_text(json.dumps({"build_s": seconds, "run": run}))


def measure(way: str, data: str, out: Path) -> dict:
    command = [sys.executable, __file__, "--data", data, "--child", way, str(out)]
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{way} failed")
    result = json.loads(out.read_text())
    return {"peak_rss_mb": usage.ru_maxrss / 1024, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="BEIR folder (its corpus and test queries).")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.data, Path(args.child[1]))
        return
    from retriever.data.loader import load_dataset

    load_dataset(args.data, "test")  # the corpus store is written once, before either process
    with tempfile.TemporaryDirectory() as tmp:
        results = {way: measure(way, args.data, Path(tmp) / f"{way}.json") for way in WAYS}
    same = results["bm25s"]["run"] == results["chunked"]["run"]
    print(f"# BM25 built in chunks vs bm25s's own index: `{args.data}`\n")
    print(f"- test queries: {len(results['chunked']['run']):,}; runs (depth {DEPTH}) identical: **{same}**\n")
    print("| build | peak RSS MB | build s |")
    print("|---|---|---|")
    for way, result in results.items():
        print(f"| {way} | {result['peak_rss_mb']:,.0f} | {result['build_s']:.1f} |")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
