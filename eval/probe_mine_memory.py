"""Where `retriever mine` holds its memory on a large synthetic corpus (issue #13: "mining at 10^5 queries x
depth 100 in a few GB").

Generates (once) a synthetic BEIR folder with ``eval/make_synthetic_corpus.py``, then runs ``retriever mine`` on
its train queries in a child process, BM25 and dense candidates at depth 100, every negative strategy, the
tiny bi-encoder of the scale benchmark as dense retriever and teacher, and no false-negative margin (a random
tiny teacher would otherwise drop almost every negative, and the point is to write them all). The child's RSS
is read from ``/proc/<pid>/status`` every 0.1 s; the report gives each phase's end (from mine's ``mine: PHASE
done in`` lines) with the RSS then and the highest so far, the sampled peak and when it happened, and the
peak that ``os.wait4`` reports for the child (every page it ever held, however briefly).

    python eval/probe_mine_memory.py --passages 100000 --train-queries 100000 --name mine_memory_1e5x1e5

writes ``eval/output/<name>.md``; the corpus goes to ``--work`` (default ``eval/output/scale/``, not
committed), the mined files to a temporary folder removed at the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "eval"))

from check_mine_arrays import mine_yaml  # noqa: E402
from make_synthetic_corpus import make_corpus  # noqa: E402

INTERVAL_S = 0.1


def rss_mb(pid: int) -> int | None:
    """The current RSS of ``pid`` in MB, None once it has gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def run(
    command: list[str], env: dict[str, str]
) -> tuple[list[tuple[float, int]], list[tuple[float, str]], int]:
    """Run ``command``; (RSS samples (s, MB), phase lines (s, text), peak RSS MB from ``os.wait4``)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    samples: list[tuple[float, int]] = []

    def sample() -> None:
        while (value := rss_mb(process.pid)) is not None:  # None once it has exited (a zombie has no VmRSS)
            samples.append((time.perf_counter() - started, value))
            time.sleep(INTERVAL_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    phases = []
    for line in process.stderr:
        text = line.rsplit("\r", 1)[-1].strip()  # after the last progress-bar redraw
        if text.startswith("mine: ") and " done in " in text:
            phases.append((time.perf_counter() - started, text))
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = code = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    sampler.join()
    if code:
        raise SystemExit(f"retriever mine failed (exit {code})")
    return samples, phases, round(usage.ru_maxrss / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--train-queries", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=ROOT / "eval" / "output" / "scale")
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="Tiny bi-encoder (default: the scale benchmark's, WORK/model).",
    )
    parser.add_argument("--name", default="mine_memory")
    args = parser.parse_args()
    model = args.model or args.work / "model"
    if not (model / "modules.json").is_file():
        raise SystemExit(f"{model}: no tiny bi-encoder; run eval/bench_scale.py once (it builds WORK/model)")
    data = args.work / f"synthetic-{args.passages}x{args.train_queries}"
    if not (data / "synthetic.json").is_file():
        make_corpus(data, passages=args.passages, train_queries=args.train_queries, test_queries=100)
    env = {**os.environ, "RETRIEVER_CACHE_HOME": str(args.work / "cache"), "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory(prefix="mine-memory-", dir=args.work) as tmp:
        config = Path(tmp) / "mine.yaml"
        config.write_text(mine_yaml(data, "bm25, dense", model, no_filter=True))
        out = Path(tmp) / "out"
        command = [
            sys.executable,
            "-m",
            "retriever.cli",
            "mine",
            "--config",
            str(config),
            "--output",
            str(out),
        ]
        samples, phases, wait4_peak = run(command, env)
        written_mb = sum(path.stat().st_size for path in out.rglob("*.jsonl")) / 2**20
    peak_s, peak = max(samples, key=lambda s: s[1])
    lines = [
        f"# `retriever mine` memory: {args.passages:,} passages, {args.train_queries:,} train queries",
        "",
        f"`python eval/probe_mine_memory.py --passages {args.passages} --train-queries {args.train_queries} "
        f"--name {args.name}`: BM25 + dense candidates at depth 100, all four strategies, 28 negatives a query, "
        f"no false-negative margin, the tiny bi-encoder; {written_mb:,.0f} MB of training files written. "
        f"RSS sampled every {INTERVAL_S} s.",
        "",
        "| phase ends at (s) | phase | RSS then MB | highest so far MB |",
        "|---:|---|---:|---:|",
    ]
    for when, text in phases:
        before = [mb for s, mb in samples if s <= when] or [0]
        lines.append(f"| {when:,.0f} | {text.removeprefix('mine: ')} | {before[-1]:,} | {max(before):,} |")
    lines += [
        "",
        f"Sampled peak **{peak:,} MB** at {peak_s:,.0f} s of {samples[-1][0]:,.0f} s; "
        f"`os.wait4` peak {wait4_peak:,} MB.",
        "",
    ]
    report = "\n".join(lines)
    (ROOT / "eval" / "output" / f"{args.name}.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
