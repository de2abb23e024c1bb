"""Settings of ``retriever index`` (what goes into an index directory) and ``retriever serve`` (the app)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from retriever.config import StrictModel
from retriever.retrieval.config import BM25Config, EncoderConfig, FusionConfig, IndexConfig

RetrieverName = Literal["dense", "bm25", "hybrid"]


class IndexBuildConfig(StrictModel):
    """``retriever index``: encode a corpus with a model and save a servable index directory."""

    model: str = Field(description="Bi-encoder name or path (resolved like `retriever eval --model`).")
    data: str = Field(description="Dataset path or name; only its corpus is indexed.")
    out: Path = Field(description="Index directory to create (must be empty or absent).")
    encoder: EncoderConfig = Field(default_factory=EncoderConfig)
    index: IndexConfig = Field(default_factory=IndexConfig)
    bm25: BM25Config | None = Field(
        None, description="Also save a BM25 index (needed for bm25/hybrid serving)."
    )
    cache_dir: Path | None = Field(None, description="Embedding cache root (default $RETRIEVER_CACHE_HOME).")


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
    device: str | None = Field(
        None, description="torch device for the query encoder (None: cuda if available)."
    )
    use_gpu: bool = Field(False, description="Move the FAISS index to GPUs when faiss has them.")
    fusion: FusionConfig = Field(default_factory=FusionConfig, description="How hybrid fuses dense and BM25.")
