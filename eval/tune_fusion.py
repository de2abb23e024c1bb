"""Choose the hybrid fusion on a dev split, report it once on test: the way a user would set ``--fusion`` and
``--alpha`` (or ``rrf_k``) instead of keeping RRF's k = 60.

Input: the dense and BM25 TREC run files that ``retriever eval -r dense -r bm25 --output DIR`` writes
(``DIR/dense_<model>/run.trec``, ``DIR/bm25/run.trec``), once on the dev split and once on test. Every fusion of
the grid (RRF with k in ``--rrf-ks``; min-max interpolation ``alpha * dense + (1 - alpha) * bm25`` with alpha in
``--alphas``) is scored on dev (:func:`retriever.retrieval.fusion.fuse`, depth 1000, nDCG@10 by
:func:`retriever.eval.metrics.evaluate_run`); the best on dev is scored on test next to RRF k = 60 (the
default) and the dense run alone, with paired 95% intervals over the test queries
(:mod:`retriever.eval.significance`).

    python eval/tune_fusion.py --data nfcorpus --dev DEV_DIR --test TEST_DIR --system dense_model
    python eval/tune_fusion.py ... --system dense_docexp_prf_a,dense_docexp_prf_b --bm25-system bm25_docexp

``--dev-system`` chooses with another system's dev runs (a model trained on the dev queries: SciFact has no dev
split, so its train queries serve, with the base model's runs).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from compare_trec_runs import average_runs

from retriever.data.loader import load_dataset
from retriever.eval.metrics import evaluate_run, read_trec_run
from retriever.eval.significance import paired_difference
from retriever.retrieval.config import FusionConfig
from retriever.retrieval.fusion import fuse

METRIC = "nDCG@10"


def grid(rrf_ks: list[int], alphas: list[float]) -> list[FusionConfig]:
    return [FusionConfig(method="rrf", rrf_k=k) for k in rrf_ks] + [
        FusionConfig(method="interpolation", alpha=a) for a in alphas
    ]


def label(config: FusionConfig) -> str:
    if config.method == "rrf":
        return f"rrf k={config.rrf_k}"
    return f"interpolation alpha={config.alpha:g}"


def per_query(qrels, run) -> dict[str, float]:
    return {q: v[METRIC] for q, v in evaluate_run(qrels, run, [METRIC]).per_query.items()}


def seed_mean(qrels, folder: Path, systems: list[str], bm25_system: str, config: FusionConfig | None):
    """Per query, ``METRIC`` of each dense run in ``systems`` (one per seed) fused with the BM25 run by
    ``config`` (None: the dense run alone), averaged over the runs."""
    bm25 = read_trec_run(folder / bm25_system / "run.trec")
    per_run = []
    for system in systems:
        dense = read_trec_run(folder / system / "run.trec")
        per_run.append(per_query(qrels, dense if config is None else fuse(dense, bm25, config, 1000)))
    return average_runs(per_run)


def mean(values: dict[str, float]) -> float:
    return sum(values.values()) / len(values)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="Dataset directory or name (its qrels).")
    parser.add_argument("--dev", required=True, type=Path, help="`retriever eval` output dir on dev.")
    parser.add_argument("--test", required=True, type=Path, help="`retriever eval` output dir on test.")
    parser.add_argument("--dev-split", default="dev")
    parser.add_argument(
        "--system",
        required=True,
        help="The dense run's folder name, e.g. dense_model; several seeds' runs comma-separated (their scores "
        "are averaged per query).",
    )
    parser.add_argument(
        "--dev-system",
        help="Choose with this dense run on dev instead (default: --system), e.g. the base model's when the "
        "model was trained on the dev queries.",
    )
    parser.add_argument(
        "--bm25-system",
        default="bm25",
        help="The BM25 run's folder name, e.g. bm25_docexp (an expanded index).",
    )
    parser.add_argument("--rrf-ks", default="10,30,60,100")
    parser.add_argument("--alphas", default="0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9")
    args = parser.parse_args()
    configs = grid([int(k) for k in args.rrf_ks.split(",")], [float(a) for a in args.alphas.split(",")])
    systems = args.system.split(",")
    dev_systems = (args.dev_system or args.system).split(",")

    dev_qrels = load_dataset(args.data, args.dev_split).qrels
    dev = {label(c): mean(seed_mean(dev_qrels, args.dev, dev_systems, args.bm25_system, c)) for c in configs}
    chosen = max(configs, key=lambda c: dev[label(c)])
    print(f"| fusion of {', '.join(dev_systems)} and {args.bm25_system} | {args.dev_split} {METRIC} |")
    print("|---|---|")
    print(
        f"| dense alone | {mean(seed_mean(dev_qrels, args.dev, dev_systems, args.bm25_system, None)):.4f} |"
    )
    for name, value in dev.items():
        print(f"| {'**' + name + '**' if name == label(chosen) else name} | {value:.4f} |")

    test_qrels = load_dataset(args.data, "test").qrels
    print(f"\n{', '.join(systems)} on test:")

    def test_scores(config: FusionConfig | None) -> dict[str, float]:
        return seed_mean(test_qrels, args.test, systems, args.bm25_system, config)

    default = test_scores(FusionConfig())
    rows = {
        "dense alone": test_scores(None),
        "rrf k=60 (default)": default,
        f"{label(chosen)} (chosen on {args.dev_split})": test_scores(chosen),
    }
    print(f"\n| test | {METRIC} | - rrf k=60 [95% CI], p | - dense alone [95% CI], p |")
    print("|---|---|---|---|")
    for name, values in rows.items():
        versus = [
            "" if values is other else str(paired_difference(values, other))
            for other in (default, rows["dense alone"])
        ]
        print(f"| {name} | {mean(values):.4f} | {versus[0]} | {versus[1]} |")


if __name__ == "__main__":
    main()
