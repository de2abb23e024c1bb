"""Dev evaluation during training: the in-memory model retrieves for held-out training queries.

Dev qrels: each dev query's (source-filtered) positives, grade 1. The corpus searched is ``dev.corpus`` (a
dataset read by :func:`retriever.data.load_dataset`) when set, else the pool of every passage of the training
file (all queries' positives and negatives, so the other queries' positives are distractors). Retrieval is
H2's dense path (:class:`~retriever.retrieval.encoder.Encoder` over the live model, a flat FAISS index,
:func:`~retriever.retrieval.search.dense_search`) and the metrics are trec_eval's
(:func:`~retriever.eval.metrics.evaluate_run`), reporting nDCG@10, Recall@100 and ``dev.metric``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from retriever.data.dataset import Corpus, Qrels
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
        from retriever.eval.metrics import parse_metric

        parse_metric(config.metric)  # an unknown metric fails before training starts
        self.config = config
        self.queries = {e.query_id: e.query for e in dev}
        self.qrels: Qrels = {e.query_id: {p.id: 1 for p in e.positives} for e in dev}
        if config.corpus is not None:
            from retriever.data.loader import load_dataset

            self.corpus = load_dataset(config.corpus).corpus
        else:
            self.corpus = pool_corpus(pool)
        self.metrics = tuple(dict.fromkeys((*BASE_METRICS, config.metric)))
        self.prompts = {"query_prompt": query_prompt or "", "document_prompt": document_prompt or ""}

    def __call__(self, model: SentenceTransformer) -> dict[str, float]:
        from retriever.eval.metrics import evaluate_run
        from retriever.retrieval.config import EncoderConfig
        from retriever.retrieval.encoder import Encoder
        from retriever.retrieval.search import dense_search, index_corpus

        was_training = model.training
        model.eval()
        try:
            encoder = Encoder(
                model,
                EncoderConfig(batch_size=self.config.batch_size, **self.prompts),
                name="dev",
                progress=False,
            )
            index = index_corpus(encoder, self.corpus)
            run = dense_search(encoder, index, self.queries, k=100)
        finally:
            model.train(was_training)
        return evaluate_run(self.qrels, run, self.metrics).mean
