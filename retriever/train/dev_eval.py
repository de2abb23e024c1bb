"""Dev evaluation during training: the in-memory model retrieves for held-out training queries.

Dev qrels: each dev query's (source-filtered) positives, grade 1. The corpus searched is ``dev.corpus`` (a
dataset read by :func:`retriever.data.load_dataset`) when set, else the pool of every passage of the training
file (all queries' positives and negatives, so the other queries' positives are distractors). Scoring is the
eval runner's (:func:`retriever.eval.runner.evaluate`: dense retrieval, flat index, trec_eval metrics, no
embedding cache since the weights change every call): nDCG@10, Recall@100 and ``dev.metric``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from retriever.data.dataset import Corpus, Dataset
from retriever.data.training_file import TrainingExample
from retriever.train.config import DevEvalConfig

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

BASE_METRICS = ("nDCG@10", "Recall@100")


def pool_corpus(examples: Sequence[TrainingExample]) -> Corpus:
    """Every distinct passage of ``examples`` (first text seen per id), titles empty."""
    texts: dict[str, str] = {}
    for example in examples:
        for passage in (*example.positives, *example.negatives):
            texts.setdefault(passage.id, passage.text)
    return Corpus(list(texts), [""] * len(texts), list(texts.values()))


class DevEvaluator:
    """``evaluator(model) -> {metric: mean}`` on the dev queries (see the module docstring)."""

    def __init__(
        self,
        config: DevEvalConfig,
        dev: Sequence[TrainingExample],
        pool: Sequence[TrainingExample],
        *,
        query_prompt: str | None = None,
        document_prompt: str | None = None,
    ) -> None:
        from retriever.config import validate
        from retriever.eval.config import EvalSettings
        from retriever.eval.metrics import parse_metric

        parse_metric(config.metric)  # an unknown metric fails before training starts
        if config.corpus is not None:
            from retriever.data.loader import load_dataset

            corpus = load_dataset(config.corpus).corpus
        else:
            corpus = pool_corpus(pool)
        self.source = config.corpus  # None: the training file's own passages
        self.dataset = Dataset(
            name="dev",
            corpus=corpus,
            queries={e.query_id: e.query for e in dev},
            qrels={e.query_id: {p.id: 1 for p in e.positives} for e in dev},
            split="dev",
        )
        self.eval_config = validate(
            EvalSettings,
            {
                "k": 100,
                "style": "beir",
                "metrics": list(dict.fromkeys((*BASE_METRICS, config.metric))),
                "cache": False,
                "encoder": {
                    "batch_size": config.batch_size,
                    "query_prompt": query_prompt or "",
                    "document_prompt": document_prompt or "",
                },
            },
            source="dev evaluation",
        )

    def __call__(self, model: SentenceTransformer) -> dict[str, float]:
        from retriever.eval.runner import evaluate_systems

        was_training = model.training
        model.eval()
        try:
            report = evaluate_systems(self.eval_config, self.dataset, [model], source=self.source)
        finally:
            model.train(was_training)
        return report.systems[0].metrics
