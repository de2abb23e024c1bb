"""Settings of ``retriever judge`` (one :class:`JudgeRunConfig`, loadable from a recipe's ``judge:`` mapping)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from retriever.config import StrictModel
from retriever.mine.config import JudgeConfig


class JudgeRunConfig(StrictModel):
    """Judge a seeded, grade-stratified sample of human-labelled (query, passage) pairs and score agreement.

    The sample draws ``sample`` pairs from the qrels of ``split``, as evenly across grades as the grades
    allow (a grade with fewer pairs gives all it has, the rest is shared by the others). ``unjudged`` adds
    that many top BM25 hits that are not in the qrels as grade 0: valid only where the qrels are a judged pool
    (TREC DL), never for sparse qrels (BEIR), where unjudged is not non-relevant.
    """

    data: str = Field(description="Dataset with qrels (a path or name read by retriever.data.load_dataset).")
    split: str | None = Field(None, description="qrels split; None: test, or the only split present.")
    sample: int = Field(200, ge=1, description="Judged pairs drawn from the qrels (stratified by grade).")
    seed: int = Field(0, description="Seed of the sample (and of the bootstrap intervals).")
    unjudged: int = Field(
        0, ge=0, description="Top BM25 hits outside the qrels added as grade 0 (judged pools only)."
    )
    relevance_threshold: int | None = Field(
        None, ge=1, description="Binary label: grade >= this; None: 2 when grades reach 2 (TREC DL), else 1."
    )
    judge: JudgeConfig = Field(default_factory=lambda: JudgeConfig(kind="openai", model="judge"))
    output: Path = Field(Path("runs/judge"), description="judge_report.json / .md and the judgement cache.")
