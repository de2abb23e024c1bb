"""Fine-tune all-MiniLM-L6-v2 on a BEIR dataset's train split (SciFact, NFCorpus) with each objective and with
plain sentence-transformers MNRL at the same budget; report test nDCG@10 next to the base model and BM25.

Pipeline (every piece is cached under ``--work``, so the script can run in pieces and be rerun to resume):

1. ``retriever convert``: the train qrels (several positives per query) + BM25 hard negatives
   (``--negatives`` per query, ``--skip-top`` skipped) -> ``WORK/train.jsonl``, or ``--train-file`` (e.g. the
   output of a recipe's ``retriever mine`` stage); ``--noise-rate r`` then adds
   ``round(r x |P|)`` false positives per query (source ``noise``). ``--noise-source bm25`` takes the query's
   top BM25 candidates that are not in its qrels (they look relevant, as an LLM judge's false positives do;
   removed from its negatives), ``random`` draws them uniformly (seeded) from the corpus documents outside
   the query's qrels (certainly wrong, the controlled case when the corpus's top hits are often relevant).
   ``--source-aware filter`` then trains our objectives on the qrels positives only (``positive_sources``),
   ``staged`` on every positive first and on the qrels positives for its last ``--staged-steps`` (the
   paper's mixed regime: LLM labels, then human ones), at the same total ``--max-steps``.
2. For each objective and each learning rate of ``--lrs``: ``retriever train``. Dev: with ``--dev-split``
   (NFCorpus has ``dev``) the model is trained on all of train and scored on that split's queries over the
   whole corpus; otherwise a seeded ``--dev-fraction`` of the training queries is held out and searched in
   the training pool. The learning rate with the best dev nDCG@10 is kept for the objective.
3. The baseline ``mnrl``: ``SentenceTransformerTrainer`` + ``MultipleNegativesRankingLoss``, fed the way its
   maintainers recommend for several positives: one row per (query, positive), the query's stored BM25
   negatives taken in turn as the row's hard negative, ``BatchSamplers.NO_DUPLICATES``; same training
   queries, epochs / max steps, learning-rate grid, precision, similarity scale and dev selection. Its
   batch holds ``--mnrl-batch-size`` rows; 0 (default) gives it the passages per step of our runs (the
   plan's mean passages per step / 2, since a row brings a positive and a negative).
4. Test nDCG@10 / Recall@100 of each selected model (dense and, with ``--hybrid``, RRF with BM25) through
   ``retriever.eval.runner.evaluate``; one table in ``eval/output/<name>.json`` and ``.md``, with each row's
   paired difference from MNRL (:mod:`retriever.eval.significance`).

Budget (bf16 on this CPU): a step of 16 queries x 8 passages at 128 tokens is about 4.5 s. Smoke test (a
minute): ``--max-steps 2 --objectives lsepair,mnrl --train-queries 40 --max-docs 300 --test-queries 30
--dev-corpus pool --name train_smoke``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
OBJECTIVES = ("single", "rand1lh", "jointlh", "summarglh", "lsepair", "mnrl")
REFERENCES = {  # published test nDCG@10, by dataset folder name (../shared/data/README.md)
    "scifact": {"base all-MiniLM-L6-v2 (MTEB)": 0.6451, "BM25 (bm25s reference)": 0.686},
    "nfcorpus": {"base all-MiniLM-L6-v2 (MTEB)": 0.3159, "BM25 (bm25s reference)": 0.3210},
}
NOISE_SOURCE = "noise"
QRELS_SOURCE = "qrels"  # the source of convert's and mine's qrels positives


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", default=str(ROOT.parent / "shared" / "data" / "scifact"), help="A BEIR dataset folder."
    )
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2", help="Base model.")
    parser.add_argument("--work", default=None, help="Cache dir (default eval/output/train_<dataset>_runs).")
    parser.add_argument("--name", default=None, help="Writes eval/output/<name>.json and .md.")
    parser.add_argument("--objectives", default=",".join(OBJECTIVES), help=f"Comma list of {OBJECTIVES}.")
    parser.add_argument("--lrs", default="2e-5", help="Comma list of learning rates tried on dev.")
    parser.add_argument("--epochs", type=int, default=1, help="Epochs per run.")
    parser.add_argument("--max-steps", type=int, default=None, help="Cap on optimizer steps per run.")
    parser.add_argument("--batch-size", type=int, default=32, help="Queries (rows for mnrl) per step.")
    parser.add_argument("--max-seq-length", type=int, default=256, help="Token limit in training.")
    parser.add_argument("--max-positives", type=int, default=4, help="Positives per query per step.")
    parser.add_argument("--hard-negatives", type=int, default=4, help="BM25 negatives per query per step.")
    parser.add_argument("--scale", type=float, default=20.0, help="1 / temperature.")
    parser.add_argument("--similarity", choices=("cos", "dot"), default="cos", help="Score function.")
    parser.add_argument(
        "--positive-cap", choices=("sample", "first"), default="sample", help="Which positives a cap keeps."
    )
    parser.add_argument("--precision", default="auto", help="auto, fp32 or bf16 (training only).")
    for kind in ("attention", "hidden"):
        parser.add_argument(
            f"--{kind}-dropout",
            type=float,
            default=None,
            help=f"{kind.capitalize()} dropout while training, MNRL too (default: the model's own).",
        )
    parser.add_argument(
        "--mnrl-batch-size", type=int, default=0, help="MNRL rows per step; 0 = equal passages per step."
    )
    parser.add_argument(
        "--noise-rate", type=float, default=0.0, help="False positives added, as a share of |P| per query."
    )
    parser.add_argument(
        "--noise-source",
        choices=("bm25", "random"),
        default="bm25",
        help="Where false positives come from: top BM25 non-qrels hits, or random non-qrels documents.",
    )
    parser.add_argument(
        "--source-aware",
        choices=("none", "filter", "staged"),
        default="none",
        help="With noise: filter = train on the qrels positives only (positive_sources [qrels]); staged = "
        "the first max_steps - --staged-steps steps on every positive, then --staged-steps on qrels only.",
    )
    parser.add_argument(
        "--staged-steps", type=int, default=None, help="Steps of the qrels-only stage (default: half)."
    )
    parser.add_argument(
        "--dev-split", default=None, help="Dataset split for dev selection (e.g. dev); default: carve train."
    )
    parser.add_argument("--hybrid", action="store_true", help="Also report RRF(dense, BM25) on test.")
    parser.add_argument(
        "--train-file",
        default=None,
        help="Use this training file (e.g. from `retriever mine`) instead of step 1.",
    )
    parser.add_argument(
        "--negatives", type=int, default=30, help="BM25 negatives stored per query (convert)."
    )
    parser.add_argument("--skip-top", type=int, default=0, help="Top BM25 non-positives skipped (convert).")
    parser.add_argument("--dev-fraction", type=float, default=0.1, help="Training queries held out as dev.")
    parser.add_argument(
        "--dev-corpus", choices=("dataset", "pool"), default="dataset", help="Corpus of a carved dev split."
    )
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
    parser.add_argument(
        "--save-steps", type=int, default=100, help="Checkpoint every this many steps (the curve's points)."
    )
    parser.add_argument("--keep-checkpoints", type=int, default=2, help="Checkpoints kept per run.")
    parser.add_argument(
        "--curve", action="store_true", help="Score every kept checkpoint on dev (the dev curve over steps)."
    )
    parser.add_argument(
        "--base-weights",
        default="",
        help="Comma list of w: each selected model is also averaged with the base, (1-w) trained + w base "
        "(WiSE-FT); the w with the best dev nDCG@10 (0 = none) gets its own test row.",
    )
    args = parser.parse_args()
    args.dataset = Path(args.data).name
    args.name = args.name or f"train_{args.dataset}"
    args.work = args.work or str(ROOT / "eval" / "output" / f"train_{args.dataset}_runs")
    return args


def training_file(args: argparse.Namespace, work: Path) -> Path:
    """Step 1 (cached): train qrels -> training file, with false positives added, cut for smoke runs."""
    from retriever.data.training_file import read_training_file, write_training_file
    from retriever.mine.config import ConvertConfig
    from retriever.mine.convert import convert

    full = (
        Path(args.train_file)
        if args.train_file
        else work / f"train-neg{args.negatives}-skip{args.skip_top}.jsonl"
    )
    if not full.exists():
        convert(ConvertConfig(data=args.data, output=full, negatives=args.negatives, skip_top=args.skip_top))
    if not args.noise_rate and args.train_queries is None:
        return full
    examples = read_training_file(full)
    if args.noise_rate:
        examples = noisy(examples, args)
    stem = (training_file_key(full) if args.train_file else full.stem) + noise_suffix(args)
    if args.train_queries is not None:
        examples, stem = examples[: args.train_queries], f"{stem}-first{args.train_queries}"
    subset = work / f"{stem}.jsonl"
    if not subset.exists():
        write_training_file(subset, examples)
    return subset


def noise_suffix(args: argparse.Namespace) -> str:
    """The derived training file's name suffix: ``-noise0.5`` (BM25 source) or ``-noise0.5-random``."""
    if not args.noise_rate:
        return ""
    return f"-noise{args.noise_rate:g}" + ("" if args.noise_source == "bm25" else f"-{args.noise_source}")


def noisy(examples: list, args: argparse.Namespace) -> list:
    """Every example with ``round(rate x |P|)`` false positives of source ``noise`` from ``--noise-source``."""
    if args.noise_source == "bm25":
        return [with_false_positives(example, args.noise_rate) for example in examples]
    import random

    from retriever.data.loader import load_dataset

    train = load_dataset(args.data, "train")
    rng = random.Random(args.seed)
    return [
        with_random_positives(example, args.noise_rate, train.corpus, train.qrels, rng)
        for example in examples
    ]


def with_false_positives(example, rate: float):
    """``example`` with its ``round(rate x |P|)`` best-ranked BM25 negatives (not in the qrels, since
    convert never stores a positive as a negative) turned into positives of source ``noise``."""
    from retriever.data.training_file import Positive

    count = min(round(rate * len(example.positives)), len(example.negatives))
    noise = [
        Positive(id=n.id, text=n.text, source=NOISE_SOURCE, score=n.retriever_score)
        for n in example.negatives[:count]
    ]
    return example.model_copy(
        update={"positives": [*example.positives, *noise], "negatives": example.negatives[count:]}
    )


def with_random_positives(example, rate: float, corpus, qrels, rng):
    """``example`` with ``round(rate x |P|)`` documents drawn uniformly from ``corpus`` outside the query's
    qrels, its positives and its negatives, added as positives of source ``noise`` (negatives unchanged)."""
    from retriever.data.training_file import Positive

    taken = {*qrels.get(example.query_id, {}), *(p.id for p in example.positives)}
    taken |= {n.id for n in example.negatives}
    count = round(rate * len(example.positives))
    drawn: list[str] = []
    while len(drawn) < count:
        doc = corpus.ids[rng.randrange(len(corpus))]
        if doc not in taken:
            taken.add(doc)
            drawn.append(doc)
    noise = [Positive(id=doc, text=corpus.document(doc), source=NOISE_SOURCE) for doc in drawn]
    return example.model_copy(update={"positives": [*example.positives, *noise]})


def train_config(args: argparse.Namespace, data: Path, objective: str, lr: float, output: Path):
    from retriever.train.config import TrainConfig

    carved = args.dev_split is None
    config = TrainConfig(
        model=args.model,
        data=data,
        output=output,
        loss=objective,
        epochs=args.epochs,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        lr=lr,
        max_positives=args.max_positives,
        positive_cap=args.positive_cap,
        hard_negatives=args.hard_negatives,
        max_seq_length=args.max_seq_length,
        similarity=args.similarity,
        scale=args.scale,
        precision=args.precision,
        attention_dropout=args.attention_dropout,
        hidden_dropout=args.hidden_dropout,
        seed=args.seed,
        save_steps=args.save_steps,
        save_total_limit=args.keep_checkpoints,
        dev={
            "dev_fraction": args.dev_fraction if carved else 0.0,
            "corpus": args.data if carved and args.dev_corpus == "dataset" else None,
        },
    )
    return source_aware(config, args)


def qrels_stage_steps(args: argparse.Namespace) -> int:
    """Steps of the qrels-only stage of ``--source-aware staged``: ``--staged-steps``, else half the budget."""
    return args.staged_steps or args.max_steps // 2


def source_aware(config, args: argparse.Namespace):
    """``config`` with ``--source-aware``: the qrels positives only, or a mixture stage then a qrels stage."""
    if args.source_aware == "filter":
        return config.model_copy(update={"positive_sources": [QRELS_SOURCE]})
    if args.source_aware == "staged":
        from retriever.train.config import Stage

        if not args.max_steps:
            raise SystemExit("--source-aware staged needs --max-steps (the budget the stages share)")
        last = qrels_stage_steps(args)
        stages = [
            Stage(max_steps=args.max_steps - last),
            Stage(positive_sources=[QRELS_SOURCE], max_steps=last),
        ]
        return config.model_copy(update={"stages": stages})
    return config


def run_dir(args: argparse.Namespace, data: Path, objective: str, lr: float, work: Path) -> Path:
    """Where one run lives: runs on other training files, budgets, batch shapes, scores or seeds never share."""
    budget = f"e{args.epochs}" + (f"-s{args.max_steps}" if args.max_steps else "")
    shape = f"b{args.batch_size}-len{args.max_seq_length}-p{args.max_positives}-h{args.hard_negatives}"
    if objective == "mnrl":
        shape = f"rows{args.mnrl_batch_size or 'eq'}-len{args.max_seq_length}"
    score = f"{args.similarity}{args.scale:g}" + ("-first" if args.positive_cap == "first" else "")
    dev = f"dev-{args.dev_split}" if args.dev_split else f"devfrac{args.dev_fraction:g}"
    dropout = "".join(
        f"-{kind}drop{rate:g}"
        for kind, rate in (("attn", args.attention_dropout), ("hidden", args.hidden_dropout))
        if rate is not None
    )
    sources = "" if args.source_aware == "none" or objective == "mnrl" else f"-{args.source_aware}"
    if args.source_aware == "staged" and objective != "mnrl":
        sources += str(qrels_stage_steps(args))
    name = f"{objective}-lr{lr:g}-{budget}-{shape}-{score}-{args.precision}{dropout}{sources}-{dev}-seed{args.seed}"
    return work / (training_file_key(data) if args.train_file else data.stem) / name


def training_file_key(path: Path) -> str:
    """``<folder>-<stem>-<hash of the resolved path>``: two files both named ``mined/train.jsonl`` never share."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    return f"{path.parent.name}-{path.stem}-{digest}"


def run_objective(
    args: argparse.Namespace, data: Path, objective: str, lr: float, work: Path, dev_set
) -> dict[str, Any]:
    """Step 2: one (objective, lr) run with our trainer (resumed if interrupted); its dev score and cost."""
    from retriever.train.trainer import prepare_data, read_log, train

    output = run_dir(args, data, objective, lr, work)
    config = train_config(args, data, objective, lr, output)
    train(config, resume=True)
    log = read_log(output)
    dev = [r["dev"] for r in log if "dev" in r]
    stage_logs = [read_log(stage) for stage in sorted(output.glob("stage-*"))] + [log]  # earlier stages first
    stage_steps = [[r for r in stage_log if "loss" in r] for stage_log in stage_logs]
    plan = prepare_data(config).plan
    passages = [sum(len(g.passage_ids) for g in batch) for batch in plan.global_batches(0)]
    return {
        "objective": objective,
        "lr": lr,
        "model": str(output),
        "steps": sum(len(steps) for steps in stage_steps),
        "passages_per_step": statistics.fmean(passages),
        "train_seconds": sum(steps[-1]["elapsed_s"] for steps in stage_steps if steps),
        "dev": split_score(output, dev_set, args) if dev_set is not None else (dev[-1] if dev else {}),
    }


def mnrl_rows(examples) -> dict[str, list[str]]:
    """One (anchor, positive, negative) row per (query, positive); the j-th row of a query takes its j-th
    stored negative (cycling), so the rows of a query do not all repeat one negative."""
    rows: dict[str, list[str]] = {"anchor": [], "positive": [], "negative": []}
    for example in examples:
        for j, positive in enumerate(example.positives):
            if example.negatives:
                rows["anchor"].append(example.query)
                rows["positive"].append(positive.text)
                rows["negative"].append(example.negatives[j % len(example.negatives)].text)
    return rows


def run_mnrl(args: argparse.Namespace, data: Path, lr: float, work: Path, dev_set) -> dict[str, Any]:
    """Step 3: plain sentence-transformers MNRL on the same training queries and budget."""
    output = run_dir(args, data, "mnrl", lr, work)
    result_file = output / "bench_result.json"
    if result_file.exists():  # the run directory may have moved since the result was written
        return json.loads(result_file.read_text()) | {"model": str(output)}
    import torch
    from datasets import Dataset as HFDataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments, util
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from retriever.train.trainer import load_training_model, prepare_data, resolve_kernels

    config = train_config(args, data, "lsepair", lr, output)
    prepared = prepare_data(config)
    batch_size = args.mnrl_batch_size
    if not batch_size:  # equal passages per step: a row brings two passages
        passages = [sum(len(g.passage_ids) for g in batch) for batch in prepared.plan.global_batches(0)]
        batch_size = max(1, round(statistics.fmean(passages) / 2))
    precision, attention = resolve_kernels(config)  # as our trainer: token limit, kernel and dropout
    model = load_training_model(args.model, config, attention)
    training_args = SentenceTransformerTrainingArguments(
        output_dir=str(output / "hf"),
        num_train_epochs=args.epochs,
        max_steps=args.max_steps or -1,
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        warmup_steps=0.1,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        bf16=precision == "bf16",
        use_cpu=not torch.cuda.is_available(),
        seed=args.seed,
        save_strategy="steps" if args.curve else "no",
        save_steps=args.save_steps,
        save_total_limit=args.keep_checkpoints,
        logging_steps=10,
        report_to="none",
    )
    similarity = {"cos": "cos_sim", "dot": "dot_score"}[args.similarity]
    trainer = SentenceTransformerTrainer(
        model=model,
        args=training_args,
        train_dataset=HFDataset.from_dict(mnrl_rows(prepared.plan.examples)),
        loss=MultipleNegativesRankingLoss(model, scale=args.scale, similarity_fct=getattr(util, similarity)),
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
        "rows_per_step": batch_size,
        "passages_per_step": 2 * batch_size,
        "precision": precision,
        "train_seconds": seconds,
        "dev": split_score(output, dev_set, args)
        if dev_set is not None
        else carved_dev_score(args, prepared, model),
    }
    result_file.write_text(json.dumps(result, indent=2))
    return result


def carved_dev_score(args: argparse.Namespace, prepared, model) -> dict[str, float]:
    """The carved-dev metrics of ``model`` with the same evaluator our trainer uses."""
    from retriever.train.config import DevEvalConfig
    from retriever.train.dev_eval import DevEvaluator

    config = DevEvalConfig(
        dev_fraction=args.dev_fraction, corpus=args.data if args.dev_corpus == "dataset" else None
    )
    return DevEvaluator(config, prepared.dev, prepared.pool)(model) if prepared.dev else {}


def split_score(model: Path, dataset, args: argparse.Namespace) -> dict[str, float]:
    """Dense metrics of ``model`` on a held-out split (``--dev-split``), kept beside the model."""
    return scores_of(dataset, str(model), args, tag=f"{args.dev_split}")["metrics"]


def load_split(args: argparse.Namespace, split: str):
    """A split of the dataset, cut for smoke runs (judged documents always kept, so the qrels stay valid)."""
    from retriever.data.dataset import Corpus, Dataset
    from retriever.data.loader import load_dataset

    dataset = load_dataset(args.data, split)
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
    return Dataset(dataset.name, subset, dataset.queries, qrels, split=split)


def smoke(args: argparse.Namespace) -> bool:
    return any(v is not None for v in (args.train_queries, args.max_docs, args.test_queries))


def scores_of(dataset, model: str | None, args: argparse.Namespace, tag: str) -> dict[str, Any]:
    """Metrics and per-query nDCG@10 of BM25 (``model`` None) or a model (dense, and hybrid with
    ``--hybrid``) on ``dataset``. ``{"metrics", "per_query"}`` per system; a trained model's scores are
    kept in its directory (never for smoke subsets), so a rerun does not evaluate it again, next to the
    evaluation's outputs (``<tag>_len<L>_<systems>/``: TREC run files per system, for
    ``eval/compare_trec_runs.py``)."""
    from retriever.eval.config import EvalConfig
    from retriever.eval.runner import evaluate_systems

    retrievers = ["bm25"] if model is None else ["dense"] + (["hybrid"] if args.hybrid else [])
    saved = Path(model or ".") / f"{tag}_len{args.eval_max_seq_length}_{'-'.join(retrievers)}.json"
    kept = model is not None and Path(model).is_dir() and not smoke(args)
    if kept and saved.is_file():
        return json.loads(saved.read_text())
    config = EvalConfig(
        data=args.data,
        models=[model] if model else [],
        retrievers=retrievers,
        cache=model is not None,
        cache_dir=str(Path(args.work) / "embedding-cache"),
        encoder={"max_seq_length": args.eval_max_seq_length},
        output=str(saved.with_suffix("")) if kept else None,
    )
    report = evaluate_systems(config, dataset, config.models, source=config.data)
    systems = {system.retriever: system for system in report.systems}
    first = systems[retrievers[0]]
    entry = {
        "metrics": first.metrics,
        "per_query": {query: values["nDCG@10"] for query, values in first.per_query.items()},
    }
    if "hybrid" in systems:
        entry["hybrid"] = systems["hybrid"].metrics
        entry["hybrid_per_query"] = {q: v["nDCG@10"] for q, v in systems["hybrid"].per_query.items()}
    if kept:
        saved.write_text(json.dumps(entry))
    return entry


def dev_curve(output: Path, steps: int, dev_set, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Dev metrics of every kept checkpoint of a run of ``steps`` steps (ours under ``checkpoints/``, MNRL's
    under ``hf/``), oldest first, then the final model."""
    checkpoints = sorted(
        (int(path.name.split("-")[-1]), path)
        for path in [*output.glob("checkpoints/checkpoint-*"), *output.glob("hf/checkpoint-*")]
        if path.is_dir()
    )
    points = [
        {"step": step, "dev": split_score(path, dev_set, args)} for step, path in checkpoints if step < steps
    ]  # the last checkpoint is the final model
    return points + [{"step": "final", "dev": split_score(output, dev_set, args)}]


def averaged_with_base(run: dict[str, Any], dev_set, args: argparse.Namespace) -> dict[str, Any] | None:
    """The selected run averaged with the base model at each ``--base-weights`` w (WiSE-FT); the w with the
    best dev nDCG@10 as a row of its own, or None when no w beats the trained model itself (w = 0)."""
    from retriever.train.averaging import average_with_base

    tried = [{"base_weight": 0.0, "dev": run["dev"]}]
    for weight in (float(w) for w in args.base_weights.split(",") if w):
        target = Path(run["model"]) / f"base-avg-{weight:g}"
        if not (target / "modules.json").is_file():
            average_with_base(run["model"], args.model, weight, target)
        tried.append({"base_weight": weight, "dev": split_score(target, dev_set, args), "model": str(target)})
    print(
        f"{run['objective']} averaged with the base: {[(t['base_weight'], t['dev']['nDCG@10']) for t in tried]}"
    )
    best = max(tried, key=lambda entry: entry["dev"].get("nDCG@10", 0.0))
    if best["base_weight"] == 0.0:
        return None
    return {
        "objective": f"{run['objective']} + base (w={best['base_weight']:g})",
        "lr": run["lr"],
        "model": best["model"],
        "steps": run["steps"],
        "passages_per_step": run["passages_per_step"],
        "dev": best["dev"],
        "tried_base_weights": [{k: v for k, v in t.items() if k != "model"} for t in tried],
    }


def markdown(table: list[dict[str, Any]], args: argparse.Namespace) -> str:
    from retriever.eval.significance import paired_difference

    lines = [
        f"# {args.dataset} fine-tuning of {args.model}"
        + (" (SMOKE RUN: subsets, not comparable)" if smoke(args) else ""),
        "",
        f"Budget: epochs {args.epochs}, max steps {args.max_steps}, batch {args.batch_size} queries, "
        f"max_seq_length {args.max_seq_length}, precision {args.precision}, lrs {args.lrs} (chosen on "
        + (
            f"the {args.dev_split} split"
            if args.dev_split
            else f"a {args.dev_fraction:.0%} dev split of train"
        )
        + f"), group = {args.max_positives} positives ({args.positive_cap}) + {args.hard_negatives} "
        + (f"negatives from `{args.train_file}`" if args.train_file else "BM25 negatives (convert)")
        + f", {args.similarity} x {args.scale:g}, noise rate {args.noise_rate:g} "
        f"({args.noise_source}), source-aware training: {args.source_aware}"
        + (f" (last {qrels_stage_steps(args)} steps on qrels only)" if args.source_aware == "staged" else "")
        + ".",
        "",
        "| system | lr | steps | passages/step | train min | dev nDCG@10 | test nDCG@10 | test Recall@100 | "
        "test nDCG@10 - mnrl [95% CI], p | hybrid nDCG@10 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    mnrl = next((row for row in table if row["objective"] == "mnrl"), None)
    for name, value in REFERENCES.get(args.dataset, {}).items():
        lines.append(f"| {name} (published) | | | | | | {value:.4f} | | | |")
    for row in table:
        dev = row.get("dev", {}).get("nDCG@10")
        test = row.get("test", {})
        minutes = f"{row['train_seconds'] / 60:.1f}" if "train_seconds" in row else ""
        passages = f"{row['passages_per_step']:.0f}" if "passages_per_step" in row else ""
        delta = ""
        if mnrl is not None and row is not mnrl and "test_per_query" in row:
            delta = str(paired_difference(row["test_per_query"], mnrl["test_per_query"]))
        hybrid = row.get("hybrid", {}).get("nDCG@10")
        lines.append(
            f"| {row['objective']} | {row.get('lr', '')} | {row.get('steps', '')} | {passages} | "
            f"{minutes} | {'' if dev is None else f'{dev:.4f}'} | "
            f"{test.get('nDCG@10', float('nan')):.4f} | {test.get('Recall@100', float('nan')):.4f} | "
            f"{delta} | {'' if hybrid is None else f'{hybrid:.4f}'} |"
        )
    return "\n".join(lines + curve_lines(table)) + "\n"


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
    test = load_split(args, "test")
    dev_set = load_split(args, args.dev_split) if args.dev_split else None

    def dev_of(model: str | None) -> dict[str, Any]:
        return {"dev": scores_of(dev_set, model, args, args.dev_split)["metrics"]} if dev_set else {}

    table = [row_of({"objective": "bm25 (measured)", **dev_of(None)}, scores_of(test, None, args, "test"))]
    if args.eval_base:
        base = {"objective": "base (measured)", **dev_of(args.model)}
        table.append(row_of(base, scores_of(test, args.model, args, "test")))
    for objective in objectives:  # the table is rewritten after each objective, so a cut run keeps its rows
        runs = [
            run_mnrl(args, data, lr, work, dev_set)
            if objective == "mnrl"
            else run_objective(args, data, objective, lr, work, dev_set)
            for lr in lrs
        ]
        best = max(runs, key=lambda run: run["dev"].get("nDCG@10", 0.0))
        best["tried"] = [{"lr": run["lr"], "dev": run["dev"]} for run in runs]
        if args.curve and dev_set is not None:
            best["curve"] = dev_curve(Path(best["model"]), best["steps"], dev_set, args)
        print(f"{objective}: lr {best['lr']} dev {best['dev']}", flush=True)
        table.append(row_of(best, scores_of(test, best["model"], args, "test")))
        if args.base_weights and dev_set is not None:
            averaged = averaged_with_base(best, dev_set, args)
            if averaged is not None:
                table.append(row_of(averaged, scores_of(test, averaged["model"], args, "test")))
        write_table(args, table)
    print(markdown(table, args))


def curve_lines(table: list[dict[str, Any]]) -> list[str]:
    """One line per row with a dev curve: dev nDCG@10 at each kept checkpoint."""
    lines = []
    for row in table:
        if row.get("curve"):
            points = ", ".join(
                f"{p['step']}: {p['dev'].get('nDCG@10', float('nan')):.4f}" for p in row["curve"]
            )
            lines.append(f"- {row['objective']} (lr {row['lr']:g}) dev nDCG@10 by step: {points}")
        if row.get("tried_base_weights"):
            points = ", ".join(
                f"w={t['base_weight']:g}: {t['dev'].get('nDCG@10', float('nan')):.4f}"
                for t in row["tried_base_weights"]
            )
            lines.append(f"- {row['objective']}: dev nDCG@10 by base weight: {points}")
    return ["", *lines] if lines else []


def row_of(row: dict[str, Any], scores: dict[str, Any]) -> dict[str, Any]:
    """A table row with its test metrics and per-query nDCG@10 (dense, and hybrid when measured)."""
    extra = (
        {"hybrid": scores["hybrid"], "hybrid_per_query": scores["hybrid_per_query"]}
        if "hybrid" in scores
        else {}
    )
    return {**row, "test": scores["metrics"], "test_per_query": scores["per_query"], **extra}


def write_table(args: argparse.Namespace, table: list[dict[str, Any]]) -> None:
    """``eval/output/<name>.json`` and ``.md`` with the rows so far."""
    out = ROOT / "eval" / "output"
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "settings": vars(args),
        "smoke": smoke(args),
        "references": REFERENCES.get(args.dataset, {}),
        "rows": table,
    }
    (out / f"{args.name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    (out / f"{args.name}.md").write_text(markdown(table, args))


if __name__ == "__main__":
    main()
