"""The evaluation API: :func:`evaluate` runs every requested system on a dataset and scores it.

Systems: ``bm25`` (once), and ``dense`` / ``hybrid`` once per model. The BM25 index, each model's corpus
vectors (through the embedding cache) and each dense run are computed once and shared by the systems that
need them. Metrics come from :mod:`retriever.eval.metrics` (trec_eval semantics).

The CLI, recipes and the trainer's dev evaluation call :func:`evaluate`; the trainer passes its in-memory
model through ``models=`` (and usually ``cache=False``).
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retriever.data.dataset import Dataset, Run
from retriever.errors import InputError
from retriever.eval.config import ANSWER_KS, STYLE_METRICS, EvalConfig, EvalSettings
from retriever.outputs import require_output_dir
from retriever.provenance import library_versions

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from retriever.retrieval.encoder import Encoder
    from retriever.retrieval.expansion import DocumentExpansion

ACCURACY_NAMES = [f"Accuracy@{k}" for k in ANSWER_KS]
MSMARCO_NAME = re.compile(r"ms-?marco|trec[-_]?dl|dl-?(19|20)", re.IGNORECASE)


@dataclass
class SystemResult:
    """One evaluated system: its run, mean and per-query metrics, and where its time went (seconds)."""

    name: str
    retriever: str
    model: str | None
    run: Run
    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]]
    timings: dict[str, float]
    encoder: dict[str, Any] | None = None
    missing_queries: list[str] = field(default_factory=list)


@dataclass
class EvalReport:
    """Everything ``report.json`` holds (see :mod:`retriever.eval.report` for the schema)."""

    config: EvalSettings  # an EvalConfig (inputs included) when run by evaluate()
    dataset: dict[str, Any]
    style: str
    metric_names: list[str]
    relevance_threshold: int
    systems: list[SystemResult]
    timings: dict[str, float]
    versions: dict[str, str | None]
    remove_self_hits: bool = False


class Timer:
    """Named wall-clock sections: ``with timer("encode"): ...`` adds the seconds to ``timer.seconds``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


def resolve_style(config: EvalSettings, dataset: Dataset, source: str | None = None) -> str:
    """``config.style``, or for ``auto``: nq when the dataset has answers, msmarco for MS MARCO / TREC DL
    layouts or names (of the dataset, or of ``source``, the path or name it was loaded from), else beir."""
    if config.style != "auto":
        return config.style
    if dataset.answers:
        return "nq"
    from retriever.data.msmarco import is_msmarco

    path = Path(source).expanduser() if source else None
    if (path is not None and path.is_dir() and is_msmarco(path)) or MSMARCO_NAME.search(
        f"{source or ''} {dataset.name}"
    ):
        return "msmarco"
    return "beir"


def metric_plan(config: EvalSettings, dataset: Dataset, style: str) -> tuple[list[str], int]:
    """(qrels metric names, relevance threshold) for ``style``, unless the config overrides them."""
    graded = any(grade >= 2 for docs in dataset.qrels.values() for grade in docs.values())
    threshold = config.relevance_threshold or (2 if style == "msmarco" and graded else 1)
    if config.metrics is not None:
        return list(config.metrics), threshold
    if style == "nq":
        return (STYLE_METRICS["beir"] if dataset.qrels else []), threshold
    return STYLE_METRICS[style], threshold


def safe_name(name: str) -> str:
    """A system name usable as a directory and a TREC run tag."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def _local_path(model: str | SentenceTransformer) -> Path | None:
    """The resolved folder of a model given as a local path; None for a hub name or a model in memory."""
    if not isinstance(model, str):
        return None
    path = Path(model).expanduser()
    return path.resolve() if path.exists() else None


def _shortest_unique_suffix(path: Path, paths: set[Path]) -> str:
    """The fewest trailing components of ``path`` that no other of ``paths`` ends with (compared as
    :func:`safe_name` makes them, as run directories are)."""
    for depth in range(1, len(path.parts) + 1):
        suffix = "/".join(path.parts[-depth:])
        if all(safe_name("/".join(other.parts[-depth:])) != safe_name(suffix) for other in paths - {path}):
            return suffix
    return str(path)


def model_labels(models: Sequence[str | SentenceTransformer]) -> list[str]:
    """One label per model, distinct after :func:`safe_name` (they name systems and run directories): a local
    model its folder's name, or as much of its path as tells it from the other local models (``a/model``,
    ``b/model``); a hub name as given; a model in memory ``model`` / ``model<position>``; a label already taken
    (the same model twice) gets ``#<position>``."""
    paths = [_local_path(model) for model in models]
    distinct = {path for path in paths if path is not None}
    labels: list[str] = []
    taken: set[str] = set()
    for position, (model, path) in enumerate(zip(models, paths, strict=True)):
        if path is not None:
            label = _shortest_unique_suffix(path, distinct)
        elif isinstance(model, str):
            label = model
        else:
            label = f"model{position}" if position else "model"
        if safe_name(label) in taken:
            label = f"{label}#{position}"
        taken.add(safe_name(label))
        labels.append(label)
    return labels


def _system_name(retriever: str, label: str | None, several_models: bool, *variants: str) -> str:
    """``dense``, ``hybrid:<model>`` ... (the model only when several are compared), with the ``variants`` that
    changed the run joined on: ``dense+docexp+prf`` when the documents were expanded with labelled queries and
    the dense run used pseudo-relevance feedback."""
    retriever = "+".join([retriever, *variants])
    return retriever if label is None or not several_models else f"{retriever}:{label}"


class _Evaluation:
    """One call of :func:`evaluate`: holds the dataset, shared indexes and runs while systems are built."""

    def __init__(
        self, config: EvalSettings, dataset: Dataset, source: str | None, expansion: DocumentExpansion | None
    ) -> None:
        self.config = config
        self.dataset = dataset
        self.expansion = expansion
        self.queries = dataset.judged_queries()
        self.style = resolve_style(config, dataset, source)
        self.metric_names, self.threshold = metric_plan(config, dataset, self.style)
        self.remove_self_hits = (
            config.remove_self_hits if config.remove_self_hits is not None else self.style == "beir"
        )
        self.depth = max(config.k, config.fusion.depth if "hybrid" in config.retrievers else 0)
        self._bm25: tuple[Run, dict[str, float]] | None = None

    def score(self, run: Run) -> tuple[dict[str, float], dict[str, dict[str, float]], list[str]]:
        from retriever.eval.metrics import answer_accuracy, evaluate_run

        means: dict[str, float] = {}
        per_query: dict[str, dict[str, float]] = {}
        missing: list[str] = []
        if self.metric_names:
            result = evaluate_run(
                self.dataset.qrels, run, self.metric_names, relevance_threshold=self.threshold
            )
            means, per_query, missing = dict(result.mean), result.per_query, result.missing
        if self.style == "nq":
            means.update(answer_accuracy(run, self.dataset.answers or {}, self.dataset.corpus, ANSWER_KS))
        return means, per_query, missing

    def bm25_run(self) -> tuple[Run, dict[str, float]]:
        """The BM25 run at the shared depth and its timings, computed once."""
        if self._bm25 is None:
            from retriever.retrieval.bm25 import BM25Index
            from retriever.retrieval.search import bm25_search

            timer = Timer()
            with timer("bm25_index"):
                corpus = self.expansion.corpus(self.dataset.corpus) if self.expansion else self.dataset.corpus
                index = BM25Index.build(corpus, self.config.bm25)
            with timer("bm25_search"):
                run = bm25_search(index, self.queries, self.depth)
            self._bm25 = (run, timer.seconds)
        return self._bm25

    def dense_run(self, encoder: Encoder) -> tuple[Run, dict[str, float]]:
        """Encode the corpus (cached), index it, encode the queries and search."""
        from retriever.retrieval.dense_index import DenseIndex
        from retriever.retrieval.embedding_cache import EmbeddingCache
        from retriever.retrieval.search import corpus_embeddings, dense_search

        cache = EmbeddingCache(self.config.cache_dir) if self.config.cache else None
        timer = Timer()
        with timer("encode_corpus"):
            vectors = corpus_embeddings(encoder, self.dataset.corpus, cache)
        if self.expansion is not None:
            with timer("expand"):  # the labelled queries encoded, the documents moved towards them
                vectors = self.expansion.vectors(vectors, list(self.dataset.corpus.ids), encoder)
        with timer("build_index"):
            index = DenseIndex.build(vectors, list(self.dataset.corpus.ids), self.config.index)
        with timer("search"):  # query encoding + FAISS search (twice with feedback)
            run = dense_search(encoder, index, self.queries, self.depth, self.config.feedback)
        return run, timer.seconds

    def system(
        self, name: str, retriever: str, model: str | None, run: Run, timings: dict[str, float], **extra: Any
    ) -> SystemResult:
        from retriever.eval.metrics import remove_self_hits
        from retriever.retrieval.fusion import top_k

        run = top_k(remove_self_hits(run) if self.remove_self_hits else run, self.config.k)
        timer = Timer()
        with timer("evaluate"):
            metrics, per_query, missing = self.score(run)
        timings = {**timings, **timer.seconds}
        timings["total"] = sum(timings.values())
        return SystemResult(
            name, retriever, model, run, metrics, per_query, timings, missing_queries=missing, **extra
        )


def encode_on_all_ranks(config: EvalConfig) -> bool:
    """Under torchrun, every rank encodes its shards of the corpus for each model into the embedding cache
    (:mod:`retriever.distributed`); True on ranks other than 0, which then stop. False in one process."""
    from retriever import distributed
    from retriever.data.loader import load_dataset
    from retriever.retrieval.embedding_cache import EmbeddingCache
    from retriever.retrieval.encoder import Encoder

    dense = bool(set(config.retrievers) & {"dense", "hybrid"})
    return distributed.encode_then_release_workers(
        lambda: load_dataset(config.data, config.split).corpus,
        [functools.partial(Encoder, model, config.encoder) for model in config.models if dense],
        EmbeddingCache(config.cache_dir) if config.cache else None,
    )


def evaluate(config: EvalConfig) -> EvalReport:
    """Load ``config.data`` (its ``split``, and the ``expansion`` split's labelled queries when set) and evaluate
    ``config.models`` on it (:func:`evaluate_systems`)."""
    from retriever.data.loader import load_dataset

    if config.output:
        require_output_dir(config.output)
    timer = Timer()
    with timer("load_data"):
        dataset = load_dataset(config.data, config.split)
        expansion = labelled_expansion(config, dataset)
    return evaluate_systems(
        config, dataset, config.models, source=config.data, timer=timer, expansion=expansion
    )


def labelled_expansion(config: EvalConfig, dataset: Dataset) -> DocumentExpansion | None:
    """The documents' labelled queries from ``config.expansion.split`` of ``config.data`` (None when off);
    refused when that is the split being evaluated, whose labels would then be read as its answers."""
    from retriever.retrieval.expansion import DocumentExpansion

    split = config.expansion.split
    if split is None:
        return None
    if split == dataset.split:
        raise InputError(
            f"expanding the documents with the queries of {split!r}, the split being evaluated, reads their "
            "labels as answers: expand with another split",
            field="expansion.split",
        )
    return DocumentExpansion.load(config.data, config.expansion, dataset.corpus)


def evaluate_systems(
    config: EvalSettings,
    dataset: Dataset,
    models: Sequence[str | SentenceTransformer] = (),
    *,
    source: str | None = None,
    timer: Timer | None = None,
    expansion: DocumentExpansion | None = None,
) -> EvalReport:
    """Run and score every system of ``config`` on a loaded ``dataset`` with ``models`` (names, paths or
    loaded SentenceTransformers); write the outputs when ``config.output`` is set. ``source`` is where the
    dataset came from (recorded in the report, and read for the MS MARCO layout by ``style: auto``);
    ``expansion`` expands the documents of every index (BM25 and dense) with labelled queries."""
    from retriever.retrieval.encoder import Encoder
    from retriever.retrieval.fusion import fuse

    if config.output:
        require_output_dir(config.output)
    timer = timer or Timer()
    evaluation = _Evaluation(config, dataset, source, expansion)
    model_list = list(models)
    dense_wanted = set(config.retrievers) & {"dense", "hybrid"}
    if dense_wanted and not model_list:
        raise InputError("dense and hybrid retrieval need at least one model (--model)", field="models")
    results: dict[tuple[str, int], SystemResult] = {}  # (retriever, model position) -> result
    expanded = ["docexp"] if expansion is not None else []
    dense_variants = expanded + (["prf"] if config.feedback.depth > 0 else [])
    if "bm25" in config.retrievers:
        bm25_name = _system_name("bm25", None, False, *expanded)
        results["bm25", 0] = evaluation.system(bm25_name, "bm25", None, *evaluation.bm25_run())
    several = len(model_list) > 1
    labels = model_labels(model_list)
    for position, model in enumerate(model_list if dense_wanted else []):  # one model in memory at a time
        label = labels[position]
        model_timer = Timer()
        with model_timer("load_model"):
            encoder = Encoder(model, config.encoder, name=label if not isinstance(model, str) else None)
        dense, dense_timings = evaluation.dense_run(encoder)
        dense_timings = {**model_timer.seconds, **dense_timings}
        described = encoder.describe()
        if "dense" in config.retrievers:
            name = _system_name("dense", label, several, *dense_variants)
            results["dense", position] = evaluation.system(
                name, "dense", label, dense, dense_timings, encoder=described
            )
        if "hybrid" in config.retrievers:
            lexical, lexical_timings = evaluation.bm25_run()
            fuse_timer = Timer()
            with fuse_timer("fuse"):
                fused = fuse(dense, lexical, config.fusion, config.k)
            timings = {**dense_timings, **lexical_timings, **fuse_timer.seconds}
            name = _system_name("hybrid", label, several, *dense_variants)
            results["hybrid", position] = evaluation.system(
                name, "hybrid", label, fused, timings, encoder=described
            )
    # report order: retrievers as requested, then models as given
    systems = [
        results[key] for key in sorted(results, key=lambda key: (config.retrievers.index(key[0]), key[1]))
    ]
    report = EvalReport(
        config=config,
        dataset=describe_dataset(dataset, source, len(evaluation.queries)),
        style=evaluation.style,
        metric_names=evaluation.metric_names + (ACCURACY_NAMES if evaluation.style == "nq" else []),
        relevance_threshold=evaluation.threshold,
        systems=systems,
        timings=timer.seconds,
        versions=library_versions(),
        remove_self_hits=evaluation.remove_self_hits,
    )
    if config.output:
        from retriever.eval.report import write_report

        write_report(report, config.output, dataset.qrels)
    return report


def describe_dataset(dataset: Dataset, source: str | None, evaluated_queries: int) -> dict[str, Any]:
    """Name, source, split, corpus fingerprint and counts for the report."""
    return {
        "name": dataset.name,
        "source": source,
        "split": dataset.split,
        "fingerprint": dataset.corpus.fingerprint,
        "counts": {
            "documents": len(dataset.corpus),
            "queries": evaluated_queries,
            "qrels": sum(len(docs) for docs in dataset.qrels.values()),
            "answers": len(dataset.answers or {}),
        },
    }
