"""Settings of ``retriever train`` (one :class:`TrainConfig`, loadable from a recipe's ``train:`` mapping).

Every field has a documented default and is echoed into the checkpoint's model card and ``train_config.json``.
A recipe may chain :class:`Stage` s (e.g. LLM positives first, then an epoch on human qrels): each stage
overrides a few fields and starts from the previous stage's final checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from retriever.config import StrictModel
from retriever.train.batching import PositiveCap
from retriever.train.losses.registry import CACHED_PREFIX, OBJECTIVES
from retriever.train.precision import AttentionSetting, PrecisionSetting


class DevEvalConfig(StrictModel):
    """Dev evaluation during training on queries carved from the training file (never the test split).

    ``dev_fraction`` of the training queries (drawn from ``seed``) are held out of training; their positives
    are the dev qrels (grade 1). The dev queries search ``corpus`` (a dataset path or name read by
    :func:`retriever.data.load_dataset`) when given, otherwise the pool of every passage in the training file.
    """

    dev_fraction: float = Field(
        0.0, ge=0, lt=1, description="Share of training queries held out as dev (0 = off)."
    )
    eval_steps: int | None = Field(
        None, ge=1, description="Evaluate every this many steps; None evaluates at the end of each epoch."
    )
    corpus: str | None = Field(
        None, description="Dataset whose corpus the dev queries search (default: file pool)."
    )
    batch_size: int = Field(64, ge=1, description="Encoding batch size of the dev evaluation.")
    metric: str = Field("nDCG@10", description="The dev metric logged and shown (any eval metric name).")


class Stage(StrictModel):
    """One stage of a chained recipe; a field left as None keeps the top-level value."""

    positive_sources: list[str] | None = Field(None, description="Positive sources used by this stage.")
    epochs: int | None = Field(None, ge=1, description="Epochs of this stage.")
    max_steps: int | None = Field(None, ge=1, description="Step cap of this stage.")
    lr: float | None = Field(None, gt=0, description="Peak learning rate of this stage.")
    loss: str | None = Field(None, description="Objective of this stage.")
    data: Path | None = Field(None, description="Training file of this stage.")

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, value: str | None) -> str | None:
        return value if value is None else TrainConfig._known_loss(value)


class TrainConfig(StrictModel):
    """Fine-tune a bi-encoder on a training file with a multi-positive objective.

    A step processes ``batch_size`` queries (across all processes; each takes an equal contiguous slice),
    each with a group of up to ``max_positives`` positives and ``hard_negatives`` hard negatives (or
    ``group_size - positives`` when ``group_size`` is set). The learning rate warms up linearly over
    ``warmup`` of the steps, then decays linearly to 0.
    """

    model: str = Field("sentence-transformers/all-MiniLM-L6-v2", description="Base model name or path.")
    data: Path = Field(description="Training file (JSON lines, see retriever.data.training_file).")
    output: Path = Field(
        Path("output/model"), description="Output directory (checkpoints, log, final model)."
    )
    loss: str = Field("lsepair", description="single | rand1lh | jointlh | summarglh | lsepair.")
    epochs: int = Field(1, ge=1, description="Passes over the training queries.")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimizer steps (per stage).")
    batch_size: int = Field(32, ge=1, description="Queries per optimizer step, summed over processes.")
    lr: float = Field(2e-5, gt=0, description="Peak learning rate (AdamW).")
    warmup: float = Field(0.1, ge=0, lt=1, description="Fraction of the steps spent in linear warm-up.")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay.")
    max_grad_norm: float | None = Field(1.0, gt=0, description="Gradient clipping norm (None = off).")
    max_positives: int = Field(4, ge=1, description="At most this many positives per query per step.")
    positive_cap: PositiveCap = Field(
        "sample",
        description="Which positives a capped query keeps: a seeded sample per epoch, or the first ones "
        "(the paper's reference code).",
    )
    hard_negatives: int = Field(4, ge=0, description="Hard negatives per query per step (when available).")
    group_size: int | None = Field(
        None, ge=2, description="If set, hard negatives fill group_size minus the query's positive count."
    )
    max_seq_length: int | None = Field(None, ge=8, description="Token limit; None keeps the model's.")
    similarity: Literal["cos", "dot"] = Field("cos", description="Score function of the objective.")
    scale: float = Field(20.0, gt=0, description="Scores are multiplied by scale (= 1 / temperature).")
    normalize_by_positives: bool = Field(False, description="Divide each query's loss by its positive count.")
    batch_positives: bool = Field(
        False,
        description="Every passage of a step that is a known positive of a query is an active positive of it, "
        "not only the max_positives drawn for it (off: such passages are masked). Where queries share many "
        "positives (NFCorpus) a step trains on more positives at no cost; not with positive_sources.",
    )
    distill_weight: float = Field(
        0.0,
        ge=0,
        description="Weight of the KL to the training file's teacher scores over each query's own passages "
        "(0 = off): loss = objective + distill_weight * KL(softmax(teacher / teacher_temperature) || "
        "softmax(scores)).",
    )
    teacher_temperature: float = Field(
        1.0, gt=0, description="Divides the teacher scores before their softmax (distillation)."
    )
    positive_sources: list[str] | None = Field(
        None, description="Keep only positives with these sources (e.g. [qrels], [llm]); None keeps all."
    )
    query_prompt: str | None = Field(None, description="Prefix added to every query (E5/BGE style).")
    document_prompt: str | None = Field(None, description="Prefix added to every passage.")
    seed: int = Field(42, description="Seeds the batch plan, positive/negative draws, dev split and dropout.")
    precision: PrecisionSetting = Field(
        "auto",
        description="Mixed precision: auto = bf16 on GPUs and CPUs with native bf16 (AVX-512 BF16 / AMX), "
        "fp16 on older GPUs, fp32 otherwise; the losses always compute in fp32.",
    )
    attention_dropout: float | None = Field(
        None,
        ge=0,
        lt=1,
        description="Dropout on attention probabilities while training; None keeps the model's (0.1 in "
        "MiniLM), 0 skips it (its masks are a large part of a CPU step).",
    )
    hidden_dropout: float | None = Field(
        None,
        ge=0,
        lt=1,
        description="Every other dropout of the encoder while training; None keeps the model's.",
    )
    attention: AttentionSetting = Field(
        "auto",
        description="Attention kernel while training: auto = eager under bf16 on a CPU (faster there), the "
        "model's own (sdpa) otherwise; checkpoints load with the model's default either way.",
    )
    cached: bool = Field(False, description="GradCache variant of the loss (large batches, little memory).")
    mini_batch_size: int = Field(32, ge=1, description="GradCache mini-batch size (texts per forward).")
    gather_across_devices: bool = Field(True, description="Use every process's passages as negatives.")
    base_weight: float = Field(
        0.0,
        ge=0,
        le=1,
        description="After training, average the weights with the starting model: (1 - w) trained + w start "
        "(WiSE-FT); 0 keeps the trained model.",
    )
    save_steps: int = Field(500, ge=1, description="Save a resumable checkpoint every this many steps.")
    save_total_limit: int = Field(2, ge=1, description="Keep only the newest this many checkpoints.")
    dev: DevEvalConfig = Field(default_factory=DevEvalConfig, description="Dev evaluation settings.")
    stages: list[Stage] = Field(default_factory=list, description="Chained stages (empty = one stage).")

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, value: str) -> str:
        if value.startswith(CACHED_PREFIX) and value.removeprefix(CACHED_PREFIX) in OBJECTIVES:
            raise ValueError(f"write loss {value.removeprefix(CACHED_PREFIX)!r} with cached: true (--cached)")
        if value not in OBJECTIVES:
            raise ValueError(f"unknown loss {value!r}; choose one of {', '.join(OBJECTIVES)}")
        return value

    @model_validator(mode="after")
    def _group_fits(self) -> TrainConfig:
        if self.group_size is not None and self.group_size <= self.max_positives:
            raise ValueError(
                f"group_size ({self.group_size}) must exceed max_positives ({self.max_positives})"
            )
        filtered = self.positive_sources is not None or any(
            s.positive_sources is not None for s in self.stages
        )
        if self.batch_positives and filtered:
            # a source filter's dropped positives stay known (masked): batch_positives would train on them
            raise ValueError("batch_positives cannot be combined with positive_sources")
        return self

    def for_stage(self, index: int) -> TrainConfig:
        """The flat config of stage ``index``: its overrides on top of this config, without ``stages``."""
        overrides = self.stages[index].model_dump(exclude_none=True)
        return self.model_copy(update={**overrides, "stages": []})
