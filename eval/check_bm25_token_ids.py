"""BM25 (bm25s) indexed from token ids equals the index from token lists, in less memory (issue #13).

``retriever.retrieval.bm25`` hands bm25s one ``array('i')`` of token ids per document and the vocabulary
(:func:`~retriever.retrieval.bm25.indexable_token_ids`) instead of a list of token strings per document (what
it did before). This script builds both on one BEIR folder, each in its own process (peak RSS from
``os.wait4``, the corpus loaded from the store in both), searches the test queries at depth 100 and checks that
the two runs are equal: the same documents with the same scores per query (so the same rankings).

    python eval/check_bm25_token_ids.py --data eval/output/scale/synthetic-100000
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


def child(way: str, data: str, out: Path) -> None:
    from retriever.data.loader import load_dataset
    from retriever.retrieval import bm25
    from retriever.retrieval.bm25 import BM25Index
    from retriever.retrieval.config import BM25Config

    dataset = load_dataset(data, "test")
    if way == "tokens":  # the code before: bm25s builds its vocabulary from the token lists
        bm25.indexable_token_ids = lambda texts, config: bm25.indexable_tokens(texts, config)
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
        results = {way: measure(way, args.data, Path(tmp) / f"{way}.json") for way in ("tokens", "ids")}
    same = results["tokens"]["run"] == results["ids"]["run"]
    print(f"# BM25 from token ids vs token lists: `{args.data}`\n")
    print(f"- test queries: {len(results['ids']['run']):,}; runs (depth {DEPTH}) identical: **{same}**\n")
    print("| bm25s input | peak RSS MB | build s |")
    print("|---|---|---|")
    for way, result in results.items():
        print(f"| {way} | {result['peak_rss_mb']:,.0f} | {result['build_s']:.1f} |")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
