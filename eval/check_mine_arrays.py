"""Arrays-based mining writes the same bytes as the code before it, in less memory (issue #13 item 2).

Runs the same ``retriever mine`` config twice, each in its own process: with the code of ``--old`` (a git
commit, extracted with ``git archive``) and with this tree. Compares every training file the runs write
(``train.jsonl``, ``strategies/*.jsonl``) byte for byte (sha256) and the manifests' ECI tables and counts,
and reports each run's wall time and peak RSS (``os.wait4``). The embedding cache is shared, so the second
run does not re-encode the corpus; the order is old first, so the new run never pays for the encoding.

Usage: ``python eval/check_mine_arrays.py [--old COMMIT] [--data scifact] [--max-queries N]``; writes
``eval/output/mine_arrays.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OLD = "52b780e"  # the last commit whose mining kept per-pair dictionaries


def extract(commit: str, target: Path) -> Path:
    """The ``retriever`` package as of ``commit``, under ``target``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "retriever"], check=True, capture_output=True
    ).stdout
    with tempfile.TemporaryFile() as handle:
        handle.write(archive)
        handle.seek(0)
        with tarfile.open(fileobj=handle) as tar:
            tar.extractall(target, filter="data")
    return target


def mine_yaml(data, sources: str, bi_encoder, no_filter: bool, max_queries: int | None = None) -> str:
    """The mine config both runs share: ``sources`` (comma-separated) at depth 100, ``bi_encoder`` as dense
    retriever and teacher, 28 negatives from rank 3, every strategy (``auto``), the false-negative margin off
    with ``no_filter``."""
    lines = [
        f"data: {data}",
        "split: train",
        "candidates:",
        f"  sources: [{sources}]",
        "  depth: 100",
        f"  bi_encoder: {bi_encoder}",
        "negatives: {count: 28, range_min: 2" + (", relative_margin: null}" if no_filter else "}"),
        "strategy: auto",
    ]
    if max_queries:
        lines.append(f"max_queries: {max_queries}")
    return "\n".join(lines) + "\n"


def run_mine(code: Path, config: Path, out: Path) -> dict:
    """``retriever mine --config CONFIG --output OUT`` with ``code`` first on the path; wall s and peak RSS."""
    env = {**os.environ, "PYTHONPATH": str(code), "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable,
        "-c",
        "from retriever.cli import main; main()",
        "mine",
        "--config",
        str(config),
    ]
    started = time.perf_counter()
    # run from outside the tree: ``python -c`` puts the working directory first on sys.path
    process = subprocess.Popen([*command, "--output", str(out)], env=env, cwd=out.parent)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"mine with {code} failed (exit {os.waitstatus_to_exitcode(status)})")
    return {"wall_s": time.perf_counter() - started, "peak_rss_mb": usage.ru_maxrss / 1024}


def digests(out: Path) -> dict[str, str]:
    files = [out / "train.jsonl", *sorted((out / "strategies").glob("*.jsonl"))]
    return {str(f.relative_to(out)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def measured(out: Path) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    return {key: manifest[key] for key in ("eci", "counts", "strategy")} | {
        "teacher_pairs": manifest["teacher"]["pairs"]
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--old", default=OLD, help="Commit of the reference code.")
    parser.add_argument("--data", default="scifact", help="Dataset name or BEIR folder (train split mined).")
    parser.add_argument("--max-queries", type=int, default=None, help="Mine only the first N queries.")
    parser.add_argument(
        "--bi-encoder",
        default="sentence-transformers/all-MiniLM-L6-v2",
        help="Dense candidates and teacher (a tiny model keeps a 10^5-passage check to minutes).",
    )
    parser.add_argument("--sources", default="bm25,dense", help="Candidate sources, comma-separated.")
    parser.add_argument(
        "--no-filter",
        action="store_true",
        help="No false-negative margin (a tiny model's teacher would otherwise drop almost every negative).",
    )
    parser.add_argument("--name", default="mine_arrays", help="Writes eval/output/<name>.md.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mine-arrays-") as tmp:
        work = Path(tmp)
        config = work / "mine.yaml"
        config.write_text(
            mine_yaml(args.data, args.sources, args.bi_encoder, args.no_filter, args.max_queries)
        )
        old_code = extract(args.old, work / "old")
        runs = {}
        for label, code in (("old", old_code), ("new", ROOT)):
            out = work / f"out-{label}"
            runs[label] = run_mine(code, config, out) | {
                "files": digests(out),
                "measured": measured(out),
                "negatives": sum(
                    len(json.loads(line)["negatives"])
                    for path in (out / "strategies").glob("*.jsonl")
                    for line in path.read_text().splitlines()
                ),
            }
    same_files = runs["old"]["files"] == runs["new"]["files"]
    same_measured = runs["old"]["measured"] == runs["new"]["measured"]
    report = [
        f"# Arrays-based mining vs the per-pair dictionaries of {args.old}",
        "",
        f"`python eval/check_mine_arrays.py --old {args.old} --data {args.data} --sources {args.sources} "
        f"--bi-encoder {args.bi_encoder}"
        + (f" --max-queries {args.max_queries}" if args.max_queries else "")
        + (" --no-filter" if args.no_filter else "")
        + f"`: {args.sources} candidates at depth 100, the bi-encoder as teacher, every strategy; "
        f"{runs['new']['measured']['counts']['examples']:,} examples.",
        "",
        f"- training files byte-identical: **{same_files}** ({len(runs['new']['files'])} files: "
        + ", ".join(f"`{name}` {digest[:12]}" for name, digest in runs["new"]["files"].items())
        + ")",
        f"- ECI table, counts and chosen strategy identical: **{same_measured}**",
        f"- teacher pairs: {runs['new']['measured']['teacher_pairs']:,}; negatives written: "
        f"{runs['new']['negatives']:,}",
        "",
        "| code | wall s | peak RSS MB |",
        "|---|---|---|",
        *(f"| {label} | {run['wall_s']:.1f} | {run['peak_rss_mb']:.0f} |" for label, run in runs.items()),
        "",
        "The old run encodes the corpus into the shared embedding cache; the new one reads it, so its wall "
        "time is not comparable, its peak RSS is.",
    ]
    text = "\n".join(report) + "\n"
    (ROOT / "eval" / "output" / f"{args.name}.md").write_text(text)
    print(text)
    if not (same_files and same_measured):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
