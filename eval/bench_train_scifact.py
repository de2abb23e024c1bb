"""Fine-tune all-MiniLM-L6-v2 on SciFact train with each objective, and plain sentence-transformers MNRL, at the
same budget; report SciFact test nDCG@10 next to the base model (0.6451) and BM25 (0.686).

Pipeline (every piece is cached under ``--work``, so the script can run in pieces and be rerun to resume):

1. ``retriever convert``: SciFact train qrels (several positives per query) + BM25 hard negatives
   (``--negatives`` per query, ``--skip-top`` skipped) -> ``WORK/train.jsonl``.
2. For each objective and each learning rate of ``--lrs``: ``retriever train`` on train minus a seeded dev
   split (``--dev-fraction`` of the training queries, never test), dev nDCG@10 at the end of each epoch; the
   learning rate with the best final dev nDCG@10 is kept for the objective.
3. The baseline ``mnrl``: ``SentenceTransformerTrainer`` + ``MultipleNegativesRankingLoss`` (cos, scale 20), one
   row per (query, positive) with the query's top BM25 negative, ``BatchSamplers.NO_DUPLICATES``, on the same
   training queries with the same epochs / max steps / batch size / learning-rate grid and the same dev
   selection.
4. SciFact test nDCG@10 / Recall@100 of each selected model through ``retriever.eval.runner.evaluate``; one
   table in ``eval/output/<name>.json`` and ``.md``.

Budget: one epoch of one run is about 15 CPU-minutes here (batch 32, max_seq_length 256); a dev evaluation on
the SciFact corpus adds about 6. Run e.g. ``--objectives lsepair,mnrl`` first. Smoke test (a minute):
``--max-steps 2 --objectives lsepair --train-queries 40 --max-docs 300 --test-queries 30 --dev-corpus pool
--name train_scifact_smoke``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
OBJECTIVES = ("single", "rand1lh", "jointlh", "summarglh", "lsepair", "mnrl")
FULL_TEST_QUERIES = 300  # SciFact test; scores of smoke subsets are never kept
REFERENCES = {"base all-MiniLM-L6-v2 (MTEB)": 0.6451, "BM25 (bm25s reference)": 0.686}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", default=str(ROOT.parent / "shared" / "data" / "scifact"), help="SciFact (BEIR)."
    )
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2", help="Base model.")
    parser.add_argument(
        "--work", default=str(ROOT / "eval" / "output" / "train_scifact_runs"), help="Cache dir."
    )
    parser.add_argument("--name", default="train_scifact", help="Writes eval/output/<name>.json and .md.")
    parser.add_argument("--objectives", default=",".join(OBJECTIVES), help=f"Comma list of {OBJECTIVES}.")
    parser.add_argument("--lrs", default="2e-5", help="Comma list of learning rates tried on dev.")
    parser.add_argument("--epochs", type=int, default=1, help="Epochs per run.")
    parser.add_argument("--max-steps", type=int, default=None, help="Cap on optimizer steps per run.")
    parser.add_argument("--batch-size", type=int, default=32, help="Queries (rows for mnrl) per step.")
    parser.add_argument("--max-seq-length", type=int, default=256, help="Token limit in training.")
    parser.add_argument("--max-positives", type=int, default=4, help="Positives per query per step.")
    parser.add_argument("--hard-negatives", type=int, default=4, help="BM25 negatives per query per step.")
    parser.add_argument("--scale", type=float, default=20.0, help="1 / temperature (cosine similarity).")
    parser.add_argument(
        "--negatives", type=int, default=30, help="BM25 negatives stored per query (convert)."
    )
    parser.add_argument("--skip-top", type=int, default=0, help="Top BM25 non-positives skipped (convert).")
    parser.add_argument("--dev-fraction", type=float, default=0.1, help="Training queries held out as dev.")
    parser.add_argument("--dev-corpus", choices=("scifact", "pool"), default="scifact", help="Dev corpus.")
    parser.add_argument("--seed", type=int, default=42, help="Seed of everything.")
    parser.add_argument(
        "--train-queries", type=int, default=None, help="Smoke: keep the first N train queries."
    )
    parser.add_argument(
        "--max-docs", type=int, default=None, help="Smoke: test corpus = judged docs + first N."
    )
    parser.add_argument("--test-queries", type=int, default=None, help="Smoke: first N test queries.")
    parser.add_argument(
        "--eval-max-seq-length",
        type=int,
        default=256,
        help="Token limit of every test evaluation (same for all models; MiniLM's own is 256).",
    )
    parser.add_argument("--eval-base", action="store_true", help="Also measure the base model on test.")
    return parser.parse_args()


def training_file(args: argparse.Namespace, work: Path) -> Path:
    """Step 1 (cached): SciFact train -> training file, optionally cut to the first N queries."""
    from retriever.data.training_file import read_training_file, write_training_file
    from retriever.train.config import ConvertConfig
    from retriever.train.convert import convert

    full = work / f"train-neg{args.negatives}-skip{args.skip_top}.jsonl"
    if not full.exists():
        convert(ConvertConfig(data=args.data, output=full, negatives=args.negatives, skip_top=args.skip_top))
    if args.train_queries is None:
        return full
    subset = work / f"train-neg{args.negatives}-skip{args.skip_top}-first{args.train_queries}.jsonl"
    write_training_file(subset, read_training_file(full)[: args.train_queries])
    return subset


def train_config(args: argparse.Namespace, data: Path, objective: str, lr: float, output: Path):
    from retriever.train.config import TrainConfig

    return TrainConfig(
        model=args.model,
        data=data,
        output=output,
        loss=objective,
        epochs=args.epochs,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        lr=lr,
        max_positives=args.max_positives,
        hard_negatives=args.hard_negatives,
        max_seq_length=args.max_seq_length,
        scale=args.scale,
        seed=args.seed,
        save_steps=100,
        dev={
            "dev_fraction": args.dev_fraction,
            "corpus": args.data if args.dev_corpus == "scifact" else None,
        },
    )


def run_dir(args: argparse.Namespace, data: Path, objective: str, lr: float, work: Path) -> Path:
    """Where one run lives: runs on other training files, budgets, batch shapes or seeds never share one."""
    budget = f"e{args.epochs}" + (f"-s{args.max_steps}" if args.max_steps else "")
    shape = f"b{args.batch_size}-len{args.max_seq_length}-p{args.max_positives}-h{args.hard_negatives}"
    return work / data.stem / f"{objective}-lr{lr:g}-{budget}-{shape}-seed{args.seed}"


def run_objective(
    args: argparse.Namespace, data: Path, objective: str, lr: float, work: Path
) -> dict[str, Any]:
    """Step 2: one (objective, lr) run with our trainer (resumed if interrupted); its dev score and cost."""
    from retriever.train.trainer import read_log, train

    output = run_dir(args, data, objective, lr, work)
    train(train_config(args, data, objective, lr, output), resume=True)
    log = read_log(output)
    steps = [r for r in log if "loss" in r]
    dev = [r["dev"] for r in log if "dev" in r]
    return {
        "objective": objective,
        "lr": lr,
        "model": str(output),
        "steps": len(steps),
        "train_seconds": steps[-1]["elapsed_s"] if steps else 0.0,
        "dev": dev[-1] if dev else {},
    }


def run_mnrl(args: argparse.Namespace, data: Path, lr: float, work: Path) -> dict[str, Any]:
    """Step 3: plain sentence-transformers MNRL on the same training queries and budget."""
    output = run_dir(args, data, "mnrl", lr, work)
    result_file = output / "bench_result.json"
    if result_file.exists():  # the run directory may have moved since the result was written
        return json.loads(result_file.read_text()) | {"model": str(output)}
    from datasets import Dataset as HFDataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from retriever.retrieval.models import load_bi_encoder
    from retriever.train.trainer import prepare_data

    prepared = prepare_data(train_config(args, data, "lsepair", lr, output))
    rows: dict[str, list[str]] = {"anchor": [], "positive": [], "negative": []}
    for example in prepared.plan.examples:
        for positive in example.positives:
            if example.negatives:
                rows["anchor"].append(example.query)
                rows["positive"].append(positive.text)
                rows["negative"].append(example.negatives[0].text)
    model = load_bi_encoder(args.model)
    model.max_seq_length = args.max_seq_length
    training_args = SentenceTransformerTrainingArguments(
        output_dir=str(output / "hf"),
        num_train_epochs=args.epochs,
        max_steps=args.max_steps or -1,
        per_device_train_batch_size=args.batch_size,
        learning_rate=lr,
        warmup_ratio=0.1,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        seed=args.seed,
        save_strategy="no",
        logging_steps=10,
        report_to="none",
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=training_args,
        train_dataset=HFDataset.from_dict(rows),
        loss=MultipleNegativesRankingLoss(model, scale=args.scale),
    )
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    model.save(str(output))
    result = {
        "objective": "mnrl",
        "lr": lr,
        "model": str(output),
        "steps": trainer.state.global_step,
        "train_seconds": seconds,
        "dev": dev_score(args, prepared, model),
    }
    result_file.write_text(json.dumps(result, indent=2))
    return result


def dev_score(args: argparse.Namespace, prepared, model) -> dict[str, float]:
    """The dev metrics of ``model`` with the same evaluator our trainer uses."""
    from retriever.train.config import DevEvalConfig
    from retriever.train.dev_eval import DevEvaluator

    config = DevEvalConfig(
        dev_fraction=args.dev_fraction, corpus=args.data if args.dev_corpus == "scifact" else None
    )
    return DevEvaluator(config, prepared.dev, prepared.pool)(model) if prepared.dev else {}


def test_dataset(args: argparse.Namespace):
    """SciFact test, cut for smoke runs (judged documents always kept, so the qrels stay valid)."""
    from retriever.data.dataset import Corpus, Dataset
    from retriever.data.loader import load_dataset

    dataset = load_dataset(args.data, "test")
    if args.test_queries is None and args.max_docs is None:
        return dataset
    qrels = dict(list(dataset.qrels.items())[: args.test_queries])
    judged = {doc for docs in qrels.values() for doc in docs}
    keep = [
        i
        for i, doc in enumerate(dataset.corpus.ids)
        if doc in judged or i < (args.max_docs or len(dataset.corpus))
    ]
    corpus = dataset.corpus
    subset = Corpus(
        [corpus.ids[i] for i in keep], [corpus.titles[i] for i in keep], [corpus.texts[i] for i in keep]
    )
    return Dataset(dataset.name, subset, dataset.queries, qrels, split="test")


def test_scores(
    dataset, models: list[str], bm25: bool, max_seq_length: int | None
) -> dict[str, dict[str, Any]]:
    """Step 4: SciFact test metrics of each model (and BM25) through the eval runner.

    Each entry is ``{"metrics": means, "per_query": {query id: nDCG@10}}`` (per-query scores feed the paired
    comparison); a trained model's entry is kept in its directory, so a rerun does not evaluate it again.
    """
    from retriever.eval.config import EvalConfig
    from retriever.eval.runner import evaluate

    def entry(report) -> dict[str, Any]:
        (system,) = report.systems
        per_query = {query: values["nDCG@10"] for query, values in system.per_query.items()}
        return {"metrics": system.metrics, "per_query": per_query}

    scores: dict[str, dict[str, Any]] = {}
    if bm25:
        scores["bm25"] = entry(evaluate(EvalConfig(data="scifact", retrievers=["bm25"]), dataset=dataset))
    for model in models:
        saved = Path(model) / f"test_len{max_seq_length}.json"
        full = len(dataset.qrels) == FULL_TEST_QUERIES  # scores of smoke subsets are never kept
        if saved.is_file() and full:
            scores[model] = json.loads(saved.read_text())
            continue
        config = EvalConfig(
            data="scifact", models=[model], cache=False, encoder={"max_seq_length": max_seq_length}
        )
        scores[model] = entry(evaluate(config, dataset=dataset))
        if Path(model).is_dir() and full:
            saved.write_text(json.dumps(scores[model]))
    return scores


def markdown(table: list[dict[str, Any]], args: argparse.Namespace, smoke: bool) -> str:
    from retriever.eval.significance import paired_difference

    lines = [
        f"# SciFact fine-tuning of {args.model}" + (" (SMOKE RUN: subsets, not comparable)" if smoke else ""),
        "",
        f"Budget: epochs {args.epochs}, max steps {args.max_steps}, batch {args.batch_size}, max_seq_length "
        f"{args.max_seq_length}, lrs {args.lrs} (chosen on a {args.dev_fraction:.0%} dev split of train), "
        f"group = {args.max_positives} positives + {args.hard_negatives} BM25 negatives, scale {args.scale}.",
        "",
        "| system | lr | steps | train min | dev nDCG@10 | test nDCG@10 | test Recall@100 | "
        "test nDCG@10 - mnrl [95% CI], p |",
        "|---|---|---|---|---|---|---|---|",
    ]
    mnrl = next((row for row in table if row["objective"] == "mnrl"), None)
    for name, value in REFERENCES.items():
        lines.append(f"| {name} (published) | | | | | {value:.4f} | | |")
    for row in table:
        dev = row.get("dev", {}).get("nDCG@10")
        test = row.get("test", {})
        minutes = f"{row['train_seconds'] / 60:.1f}" if "train_seconds" in row else ""
        delta = ""
        if mnrl is not None and row is not mnrl and "test_per_query" in row:
            delta = str(paired_difference(row["test_per_query"], mnrl["test_per_query"]))
        lines.append(
            f"| {row['objective']} | {row.get('lr', '')} | {row.get('steps', '')} | "
            f"{minutes} | {'' if dev is None else f'{dev:.4f}'} | "
            f"{test.get('nDCG@10', float('nan')):.4f} | {test.get('Recall@100', float('nan')):.4f} | "
            f"{delta} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    args = parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    objectives = [o for o in args.objectives.split(",") if o]
    unknown = set(objectives) - set(OBJECTIVES)
    if unknown:
        raise SystemExit(f"unknown objectives {sorted(unknown)}; choose from {OBJECTIVES}")
    lrs = [float(lr) for lr in args.lrs.split(",")]
    data = training_file(args, work)
    dataset = test_dataset(args)
    smoke = any(v is not None for v in (args.train_queries, args.max_docs, args.test_queries))
    scores = test_scores(
        dataset, [args.model] if args.eval_base else [], bm25=True, max_seq_length=args.eval_max_seq_length
    )
    table = [row_of({"objective": "bm25 (measured)"}, scores["bm25"])]
    if args.eval_base:
        table.append(row_of({"objective": "base (measured)"}, scores[args.model]))
    for objective in objectives:  # the table is rewritten after each objective, so a cut run keeps its rows
        runs = [
            run_mnrl(args, data, lr, work)
            if objective == "mnrl"
            else run_objective(args, data, objective, lr, work)
            for lr in lrs
        ]
        best = max(runs, key=lambda run: run["dev"].get("nDCG@10", 0.0))
        best["tried"] = [{"lr": run["lr"], "dev": run["dev"]} for run in runs]
        print(f"{objective}: lr {best['lr']} dev {best['dev']}", flush=True)
        scored = test_scores(dataset, [best["model"]], bm25=False, max_seq_length=args.eval_max_seq_length)
        table.append(row_of(best, scored[best["model"]]))
        write_table(args, table, smoke)
    print(markdown(table, args, smoke))


def row_of(row: dict[str, Any], scores: dict[str, Any]) -> dict[str, Any]:
    """A table row with its test metrics and per-query nDCG@10."""
    return {**row, "test": scores["metrics"], "test_per_query": scores["per_query"]}


def write_table(args: argparse.Namespace, table: list[dict[str, Any]], smoke: bool) -> None:
    """``eval/output/<name>.json`` and ``.md`` with the rows so far."""
    out = ROOT / "eval" / "output"
    out.mkdir(parents=True, exist_ok=True)
    payload = {"settings": vars(args), "smoke": smoke, "references": REFERENCES, "rows": table}
    (out / f"{args.name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    (out / f"{args.name}.md").write_text(markdown(table, args, smoke))


if __name__ == "__main__":
    main()
