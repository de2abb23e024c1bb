"""Settings of ``retriever serve``: the HTTP app over an index directory."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from retriever.config import StrictModel
from retriever.retrieval.config import FeedbackConfig, FusionConfig

RetrieverName = Literal["dense", "bm25", "hybrid"]
LogLevel = Literal["critical", "error", "warning", "info", "debug", "trace"]  # uvicorn's


class ServeConfig(StrictModel):
    """``retriever serve``: limits, auth and batching of the HTTP app over an index directory."""

    index_dir: Path = Field(description="Directory written by `retriever index`.")
    host: str = Field("127.0.0.1", description="Interface to bind; loopback unless told otherwise.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port (0 picks a free one).")
    retriever: RetrieverName = Field("dense", description="dense, bm25 or hybrid (bm25/hybrid need --bm25).")
    api_key: SecretStr | None = Field(None, description="Required key (Bearer or X-API-Key); None = open.")
    max_k: int = Field(1000, ge=1, description="Largest k a request may ask for.")
    max_query_chars: int = Field(4096, ge=1, description="Longest query accepted, in characters.")
    max_batch: int = Field(64, ge=1, description="Most queries per request, and per micro-batch.")
    max_wait_ms: float = Field(
        0.0,
        ge=0,
        description="Extra wait for a micro-batch to fill; 0 = a batch is what queued while the last one ran.",
    )
    model: str | None = Field(None, description="Use this model path instead of the manifest's (same model).")
    device: str | None = Field(
        None, description="torch device for the query encoder (None: cuda if available)."
    )
    use_gpu: bool = Field(False, description="Move the FAISS index to GPUs when faiss has them.")
    fusion: FusionConfig = Field(default_factory=FusionConfig, description="How hybrid fuses dense and BM25.")
    feedback: FeedbackConfig = Field(
        default_factory=FeedbackConfig, description="Dense pseudo-relevance feedback (off by default)."
    )
    log_level: LogLevel = Field("info", description="uvicorn log level.")
