"""Reproduce published reference numbers through ``retriever eval``'s Python API.

1. SciFact test, BM25 defaults (bm25s Lucene, k1=1.5, b=0.75, stemmed, stopwords): nDCG@10 >= 0.68
   (bm25s reference 0.686).
2. msmarco-dl19-judged, BM25: our MRR@10, nDCG@10, Recall@100, Recall@1000 (threshold 2 for binary metrics)
   equal pytrec_eval computed here directly on the same run.
3. SciFact test, the packaged all-MiniLM-L6-v2, flat index, text = title + " " + text:
   nDCG@10 = 0.6451 +/- 0.0005 and Recall@100 = 0.925 +/- 0.001 (MTEB / measured reference).

Usage: ``python eval/reproduce_scifact.py [--data ../shared/data] [--skip-dense]``; reports are written under
``eval/output/reproduce/``; the exit code is 1 when a check fails.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pytrec_eval

from retriever.eval.config import EvalConfig
from retriever.eval.runner import evaluate
from retriever.retrieval.ranking import ranked

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "eval" / "output" / "reproduce"
failures: list[str] = []


def check(name: str, ok: bool, detail: str) -> None:
    print(f"[{'PASS' if ok else 'FAIL'}] {name}: {detail}", flush=True)
    if not ok:
        failures.append(name)


def scifact_bm25(data: Path) -> None:
    report = evaluate(
        EvalConfig(data=str(data / "scifact"), retrievers=["bm25"], output=str(OUTPUT / "scifact-bm25"))
    )
    metrics = report.systems[0].metrics
    print("scifact bm25:", {m: round(v, 4) for m, v in metrics.items()})
    check("scifact bm25 nDCG@10 >= 0.68 (ref 0.686)", metrics["nDCG@10"] >= 0.68, f"{metrics['nDCG@10']:.4f}")


def dl19_against_pytrec_eval(data: Path) -> None:
    config = EvalConfig(
        data=str(data / "msmarco-dl19-judged"),
        retrievers=["bm25"],
        metrics=["MRR@10", "nDCG@10", "Recall@100", "Recall@1000"],
        output=str(OUTPUT / "dl19-bm25"),
    )
    report = evaluate(config)
    system = report.systems[0]
    print(
        f"dl19 bm25 (style {report.style}, threshold {report.relevance_threshold}):",
        {m: round(v, 4) for m, v in system.metrics.items()},
    )
    check(
        "dl19 detected as msmarco style with threshold 2",
        (report.style, report.relevance_threshold) == ("msmarco", 2),
        report.style,
    )
    from retriever.data.loader import load_dataset

    qrels = load_dataset(config.data).qrels
    run = {qid: docs for qid, docs in system.run.items() if qid in qrels}
    graded = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
    binary = pytrec_eval.RelevanceEvaluator(qrels, {"recall.100", "recall.1000"}, relevance_level=2).evaluate(
        run
    )
    top10 = {qid: {doc: docs[doc] for doc in ranked(docs, 10)} for qid, docs in run.items()}
    mrr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}, relevance_level=2).evaluate(top10)
    relevant = [q for q in qrels if any(g >= 2 for g in qrels[q].values())]
    direct = {
        "MRR@10": sum(mrr[q]["recip_rank"] for q in relevant) / len(relevant),
        "nDCG@10": sum(graded[q]["ndcg_cut_10"] for q in relevant) / len(relevant),
        "Recall@100": sum(binary[q]["recall_100"] for q in relevant) / len(relevant),
        "Recall@1000": sum(binary[q]["recall_1000"] for q in relevant) / len(relevant),
    }
    for metric, value in direct.items():
        ours = system.metrics[metric]
        check(
            f"dl19 {metric} equals pytrec_eval",
            abs(ours - value) < 1e-9,
            f"ours {ours:.6f} pytrec_eval {value:.6f}",
        )


def scifact_minilm(data: Path) -> None:
    config = EvalConfig(
        data=str(data / "scifact"),
        models=["sentence-transformers/all-MiniLM-L6-v2"],
        retrievers=["dense"],
        output=str(OUTPUT / "scifact-minilm"),
    )
    report = evaluate(config)
    system = report.systems[0]
    metrics = system.metrics
    print(
        "scifact minilm flat:",
        {m: round(v, 4) for m, v in metrics.items()},
        "timings:",
        {k: round(v, 1) for k, v in system.timings.items()},
    )
    check(
        "scifact minilm nDCG@10 = 0.6451 +/- 0.0005",
        abs(metrics["nDCG@10"] - 0.6451) <= 0.0005,
        f"{metrics['nDCG@10']:.4f}",
    )
    check(
        "scifact minilm Recall@100 = 0.925 +/- 0.001",
        abs(metrics["Recall@100"] - 0.925) <= 0.001,
        f"{metrics['Recall@100']:.4f}",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=ROOT.parent / "shared" / "data", help="shared data folder"
    )
    parser.add_argument("--skip-dense", action="store_true", help="only the fast BM25 and DL19 checks")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    scifact_bm25(args.data)
    dl19_against_pytrec_eval(args.data)
    if not args.skip_dense:
        scifact_minilm(args.data)
    print("all checks passed" if not failures else f"FAILED: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
