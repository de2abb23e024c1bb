"""A real LLM judge end to end: llama.cpp's server (xllamacpp) with the packaged SmolLM2-135M on loopback.

1. ``retriever judge`` on the TREC DL 2019 judged pool (``--pairs`` pairs, stratified by assessor grade 0-3):
   the graded (TREC assessor) prompt at each concurrency of ``--concurrency``, and the pointwise prompt at
   the first one; each run with a fresh cache, so every judgement is paid for and timed.
2. ``retriever mine --judge openai`` against the same server on the first ``--mine-queries`` SciFact train
   queries (BM25 candidates, the bi-encoder teacher), then the same command again: the second run must be
   answered entirely from the judgement cache.

The server starts once and stops at the end. Prints one table (kappa with its 95% bootstrap interval,
weighted kappa, failed share, judgements per second, tokens) and the mine counters; writes
``eval/output/judge_llamacpp.json`` and ``.md``.

    HF_HUB_OFFLINE=1 .venv/bin/python eval/bench_judge_llamacpp.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--concurrency", default="1,2,4")
    parser.add_argument("--parallel", type=int, default=4, help="llama.cpp server slots.")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mine-queries", type=int, default=20)
    parser.add_argument("--name", default="judge_llamacpp")
    args = parser.parse_args()

    from retriever.judge.config import JudgeRunConfig
    from retriever.judge.run import run_judge
    from retriever.mine.config import MineConfig
    from retriever.mine.judges.llamacpp import local_server
    from retriever.mine.pipeline import mine

    rows = []
    work = Path(tempfile.mkdtemp(prefix="bench-judge-"))
    started = time.perf_counter()
    with local_server(parallel=args.parallel, threads=args.threads) as base_url:
        runs = [("graded", int(c)) for c in args.concurrency.split(",")]
        runs.append(("pointwise", runs[0][1]))
        for prompt, concurrency in runs:
            out = work / f"{prompt}-c{concurrency}"
            judge = {"kind": "openai", "model": "smollm2-135m", "base_url": base_url, "prompt": prompt}
            config = JudgeRunConfig(
                data=str(DATA / "msmarco-dl19-judged"),
                sample=args.pairs,
                output=out,
                judge={**judge, "concurrency": concurrency, "max_attempts": 2},
            )
            report = run_judge(config)
            rows.append({"prompt": prompt, "concurrency": concurrency, **report})
            print(f"{prompt} c={concurrency}: {report['agreement']['binary_kappa']}", flush=True)
        mined = []
        for attempt in (1, 2):
            config = MineConfig.model_validate(
                {
                    "data": str(DATA / "scifact"),
                    "max_queries": args.mine_queries,
                    "candidates": {"sources": ["bm25"], "depth": 20, "bi_encoder": "all-MiniLM-L6-v2",
                                   "encoder": {"max_seq_length": 128}},
                    "judge": {**judge, "prompt": "graded", "judge_depth": 5, "concurrency": 2, "max_attempts": 2},
                    "strategy": "bm25",
                }
            )  # fmt: skip
            manifest = mine(config, work / "mined")
            llm = sum(
                1
                for line in (work / "mined" / "train.jsonl").read_text().splitlines()
                for p in json.loads(line)["positives"]
                if p["source"] == "llm"
            )
            mined.append({"run": attempt, "judge": manifest["judge"], "llm_positives": llm})
    payload = {
        "settings": vars(args),
        "judge_runs": rows,
        "mine_runs": mined,
        "seconds": time.perf_counter() - started,
    }
    out_dir = ROOT / "eval" / "output"
    (out_dir / f"{args.name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    text = markdown(payload)
    (out_dir / f"{args.name}.md").write_text(text)
    print(text)
    shutil.rmtree(work, ignore_errors=True)


def markdown(payload: dict) -> str:
    lines = [
        "# SmolLM2-135M-Instruct (Q4_1 GGUF) as a relevance judge, llama.cpp server on this CPU",
        "",
        f"TREC DL 2019 judged pool, {payload['settings']['pairs']} pairs stratified by assessor grade; binary "
        "label grade >= 2; 95% bootstrap intervals over pairs; structured output (JSON schema) on.",
        "",
        "| prompt | concurrency | pairs judged | Cohen's kappa (binary) | weighted kappa (0-3) | failed | "
        "judgements/s | prompt / completion tokens |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in payload["judge_runs"]:
        a = row["agreement"]
        k, w = a["binary_kappa"], a["weighted_kappa"]
        lines.append(
            f"| {row['judge']['prompt_version']} | {row['concurrency']} | {a['pairs']} | "
            f"{k['value']:.3f} [{k['low']:.3f}, {k['high']:.3f}] | {w['value']:.3f} [{w['low']:.3f}, "
            f"{w['high']:.3f}] | {row['failed_share']:.1%} | {row['judgements_per_s'] or 0:.2f} | "
            f"{row['counters']['prompt_tokens']} / {row['counters']['completion_tokens']} |"
        )
    lines += ["", "`retriever mine --judge openai` on SciFact train (same server, graded prompt):", ""]
    lines += [
        "| run | pairs | ok | failed | calls | cache hits | LLM positives in train.jsonl |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in payload["mine_runs"]:
        judge = run["judge"]
        c = judge["counters"]
        lines.append(
            f"| {run['run']} | {judge['pairs']} | {judge['ok']} | {judge['failed']} | {c['calls']} | "
            f"{c['cache_hits']} | {run['llm_positives']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
