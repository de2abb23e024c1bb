"""Configuration of the mining stage (one :class:`MineConfig`, YAML-loadable, every field documented)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from retriever.config import StrictModel
from retriever.retrieval.config import BM25Config, EncoderConfig, FusionConfig, IndexConfig, TitleSeparator

Source = Literal["bm25", "dense"]
Strategy = Literal["bm25", "dense", "teacher", "hybrid"]
ALL_STRATEGIES: tuple[Strategy, ...] = ("bm25", "dense", "teacher", "hybrid")


def _invalid(message: str) -> PydanticCustomError:
    """A validation error whose message is shown as is (no "Value error, " prefix)."""
    return PydanticCustomError("invalid_mine_config", message)


class CandidatesConfig(StrictModel):
    """First-stage retrieval of candidate passages per training query (retrieval settings are H2's shared
    models, so mining and eval rank the same way)."""

    sources: list[Source] = Field(default_factory=lambda: ["bm25"], min_length=1)
    depth: int = Field(100, ge=1, description="candidates kept per source and query (known positives apart)")
    bi_encoder: str | None = Field(None, description="sentence-transformers model for dense candidates")
    encoder: EncoderConfig = Field(default_factory=EncoderConfig)
    index: IndexConfig = Field(default_factory=IndexConfig)
    bm25: BM25Config = Field(default_factory=BM25Config)
    fusion: FusionConfig = Field(default_factory=FusionConfig, description="how the hybrid ranking fuses")


class TeacherConfig(StrictModel):
    """Scores for every (query, candidate) and (query, positive) pair.

    ``model`` is a sentence-transformers ``CrossEncoder`` (raw logits); when it is None the candidates'
    bi-encoder scores the pairs by cosine similarity.
    """

    model: str | None = None
    batch_size: int = Field(32, ge=1)
    max_length: int | None = Field(None, ge=8, description="cross-encoder max tokens (None: model default)")


class JudgeConfig(StrictModel):
    """An LLM that grades candidates; relevant ones become extra positives (``source: llm``)."""

    kind: Literal["none", "openai", "hf"] = "none"
    model: str | None = Field(
        None, description="model name (openai); local path, hub name or .gguf file (hf)"
    )
    base_url: list[str] = Field(
        default_factory=lambda: ["http://localhost:8000/v1"],
        min_length=1,
        description="OpenAI-compatible base URL(s) (…/v1); a single string is one URL. Several spread the "
        "calls (fewest in flight first) and a call that faults on one is retried on another",
    )
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key")
    prompt: Literal["pointwise", "graded", "listwise"] = "pointwise"
    judge_depth: int = Field(10, ge=1, description="top candidates (by teacher score) judged per query")
    listwise_window: int = Field(10, ge=1, le=50, description="passages per listwise call")
    concurrency: int = Field(8, ge=1, description="calls in flight at once, over all endpoints")
    timeout_s: float = Field(60.0, gt=0)
    max_attempts: int = Field(4, ge=1, description="calls per judgement before it is recorded as failed")
    backoff_s: float = Field(1.0, ge=0, description="first retry delay; doubles per attempt, plus jitter")
    max_backoff_s: float = Field(30.0, ge=0)
    max_tokens: int = Field(64, ge=1, description="completion tokens per call")
    structured: bool = Field(
        True,
        description="constrain the answer to the prompt's JSON schema: openai sends it as response_format "
        'json_schema (turn off for a server that rejects it); hf picks one of the four {"grade": G} answers '
        "(pointwise, graded prompts)",
    )
    max_failed_share: float = Field(
        0.05,
        ge=0,
        le=1,
        description="stop with an error when more than this share of judgements failed (a rerun retries them)",
    )
    temperature: float = Field(0.0, ge=0)

    @field_validator("base_url", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("base_url")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        urls = [url.rstrip("/") for url in urls]
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise _invalid(f"judge base URL {url!r} does not start with http:// or https://")
            if urls.count(url) > 1:
                raise _invalid(f"judge base URL {url!r} is listed twice")
        return urls

    @model_validator(mode="after")
    def _model_given(self) -> JudgeConfig:
        if self.kind != "none" and not self.model:
            raise _invalid(f"judge '{self.kind}' needs a model (--judge-model)")
        return self


class PositivesConfig(StrictModel):
    """How human (qrels) and LLM positives merge."""

    min_qrels_grade: int = Field(1, ge=0, description="qrels grade at or above which a passage is a positive")
    grade_threshold: int = Field(
        2, ge=0, le=3, description="LLM grade (0-3) at or above which it is relevant"
    )
    conflict: Literal["qrels_wins", "drop"] = Field(
        "qrels_wins", description="a qrels positive the LLM grades below threshold: keep it, or drop it"
    )
    max_positives: int | None = Field(None, ge=1, description="cap per query (strongest teacher score first)")


class NegativesConfig(StrictModel):
    """Hard-negative selection from one strategy's ranking (positives removed first; ranks 0-based)."""

    count: int = Field(7, ge=0, description="negatives per query")
    range_min: int = Field(0, ge=0, description="skip the first range_min ranks")
    range_max: int | None = Field(None, ge=1, description="consider ranks < range_max (None: all)")
    sampling: Literal["top", "random"] = "top"
    seed: int = 0
    absolute_margin: float | None = Field(
        None, description="drop a negative when teacher(n) + margin > teacher(weakest positive)"
    )
    relative_margin: float | None = Field(
        0.05, description="drop a negative when teacher(n) > t_p - |t_p| * margin (t_p: weakest positive)"
    )

    @model_validator(mode="after")
    def _range(self) -> NegativesConfig:
        if self.range_max is not None and self.range_max <= self.range_min:
            raise _invalid("range_max must be greater than range_min")
        return self


class EciConfig(StrictModel):
    """Scales of ECI's hardness (temperature) and safety (margin); None picks them from the teacher kind
    (cross-encoder logits: 1.0 and 1.0; cosine: 0.05 and 0.05)."""

    temperature: float | None = Field(None, gt=0)
    margin: float | None = Field(None, ge=0)


class MineConfig(StrictModel):
    """The whole mining stage."""

    data: str = Field(..., description="dataset name or path (see retriever.data.load_dataset)")
    split: str = "train"
    max_queries: int | None = Field(None, ge=1, description="mine only the first N queries (smoke tests)")
    candidates: CandidatesConfig = Field(default_factory=CandidatesConfig)
    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    positives: PositivesConfig = Field(default_factory=PositivesConfig)
    negatives: NegativesConfig = Field(default_factory=NegativesConfig)
    eci: EciConfig = Field(default_factory=EciConfig)
    strategy: Literal["auto", "bm25", "dense", "teacher", "hybrid"] = "auto"

    def strategies(self) -> tuple[Strategy, ...]:
        """The strategies whose ECI is computed: the one asked for, or for ``auto`` every strategy the
        configuration allows (bm25 and teacher always; dense and hybrid when a bi-encoder is given)."""
        if self.strategy != "auto":
            return (self.strategy,)
        dense = bool(self.candidates.bi_encoder)
        return tuple(s for s in ALL_STRATEGIES if dense or s not in ("dense", "hybrid"))

    def sources(self) -> list[Source]:
        """Candidate sources needed: those asked for plus those the strategies rank by."""
        needed = set(self.candidates.sources)
        for strategy in self.strategies():
            needed |= {"bm25": {"bm25"}, "dense": {"dense"}, "hybrid": {"bm25", "dense"}}.get(strategy, set())
        return sorted(needed)

    @model_validator(mode="after")
    def _needs_encoder(self) -> MineConfig:
        if "dense" in self.sources() and not self.candidates.bi_encoder:
            raise _invalid("dense candidates (strategy dense or hybrid) need a bi-encoder (--bi-encoder)")
        if self.teacher.model is None and not self.candidates.bi_encoder:
            raise _invalid("no teacher: give a cross-encoder (--teacher) or a bi-encoder (--bi-encoder)")
        return self


class ConvertConfig(StrictModel):
    """``retriever convert``: a dataset split's qrels + BM25 hard negatives -> a training file."""

    data: str = Field(description="Dataset path or name (read by retriever.data.load_dataset).")
    split: str = Field("train", description="Qrels split whose positives are used.")
    output: Path = Field(description="Training file to write.")
    negatives: int = Field(30, ge=0, description="BM25 hard negatives kept per query.")
    skip_top: int = Field(
        0, ge=0, description="Skip this many top BM25 non-positive hits (false-negative guard)."
    )
    min_grade: int = Field(1, ge=1, description="Qrels grade at or above which a document is a positive.")
    title_separator: TitleSeparator = " "
    bm25: BM25Config = Field(default_factory=BM25Config, description="BM25 settings of the negative search.")
