"""``EvalConfig``: every setting of ``retriever eval`` that can change a number, each with its default.

The whole model (defaults included) is echoed under ``config`` in ``report.json``. Retrieval settings are the
shared :mod:`retriever.retrieval.config` models, so mining and serving read the same fields.

Metric sets by dataset style (``style="auto"`` picks one; ``metrics`` overrides the list):

- ``beir``: nDCG@10, Recall@100, MAP@100, MRR@10; relevance threshold 1.
- ``msmarco`` (MS MARCO / TREC DL layouts or names): MRR@10, nDCG@10 (graded), Recall@100, Recall@1000;
  threshold 2 when the qrels are graded (some grade >= 2, as in TREC DL), else 1 (MS MARCO dev).
- ``nq`` (the dataset has answers): Accuracy@1/5/20/100 (DPR answer match), plus the BEIR set when
  qrels exist.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from retriever.config import StrictModel
from retriever.retrieval.config import (
    BM25Config,
    EncoderConfig,
    ExpansionConfig,
    FeedbackConfig,
    FusionConfig,
    IndexConfig,
)

RetrieverName = Literal["dense", "bm25", "hybrid"]
Style = Literal["auto", "beir", "msmarco", "nq"]

STYLE_METRICS: dict[str, list[str]] = {
    "beir": ["nDCG@10", "Recall@100", "MAP@100", "MRR@10"],
    "msmarco": ["MRR@10", "nDCG@10", "Recall@100", "Recall@1000"],
}
ANSWER_KS = (1, 5, 20, 100)


class EvalSettings(StrictModel):
    """How to evaluate (see the module doc for the metric sets): everything but the inputs, which
    :class:`EvalConfig` adds; :func:`retriever.eval.runner.evaluate_systems` takes these with a loaded
    dataset and models."""

    retrievers: list[RetrieverName] = Field(
        default_factory=lambda: ["dense"], description="Systems to run: dense, bm25 and/or hybrid."
    )
    k: int = Field(1000, ge=1, description="Documents retrieved per query (the run depth).")
    encoder: EncoderConfig = Field(default_factory=EncoderConfig)
    index: IndexConfig = Field(default_factory=IndexConfig)
    bm25: BM25Config = Field(default_factory=BM25Config)
    fusion: FusionConfig = Field(default_factory=FusionConfig)
    feedback: FeedbackConfig = Field(
        default_factory=FeedbackConfig, description="Dense pseudo-relevance feedback (off by default)."
    )
    style: Style = Field("auto", description="Metric set: auto, beir, msmarco or nq.")
    metrics: list[str] | None = Field(None, description="Metric names replacing the style's set.")
    relevance_threshold: int | None = Field(
        None, ge=1, description="Lowest relevant grade for binary metrics; None: the style's default."
    )
    remove_self_hits: bool | None = Field(
        None,
        description="Drop hits whose doc id equals the query id; None: on in BEIR style (BEIR's and "
        "MTEB's ignore_identical_ids, which matters where queries are also documents: ArguAna, Quora), "
        "off otherwise.",
    )
    cache: bool = Field(True, description="Read/write corpus vectors in the on-disk embedding cache.")
    cache_dir: str | None = Field(None, description="Cache root; None: $RETRIEVER_CACHE_HOME or ~/.cache.")
    output: str | None = Field(None, description="Directory for run.trec, report.json and report.md.")

    @model_validator(mode="after")
    def _check(self) -> EvalSettings:
        if not self.retrievers:
            raise ValueError("at least one retriever is needed (dense, bm25 or hybrid)")
        if len(set(self.retrievers)) != len(self.retrievers):
            raise ValueError(f"retrievers are repeated: {self.retrievers}")
        return self


class EvalConfig(EvalSettings):
    """What to evaluate and on what (the dataset and the models, by name or path), and how."""

    data: str = Field(description="Dataset directory or name (see retriever.data.load_dataset).")
    split: str | None = Field(None, description="qrels split; None: test, or the only split present.")
    models: list[str] = Field(
        default_factory=list, description="Bi-encoder names or paths; dense and hybrid need one."
    )
    expansion: ExpansionConfig = Field(
        default_factory=ExpansionConfig,
        description="Document expansion with the labelled queries of another split (off by default).",
    )
