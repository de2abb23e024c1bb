"""Settings of ``retriever index``: what goes into an index directory."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from retriever.config import StrictModel
from retriever.retrieval.config import BM25Config, EncoderConfig, ExpansionConfig, IndexConfig


class IndexBuildConfig(StrictModel):
    """``retriever index``: encode a corpus with a model and save a servable index directory."""

    model: str = Field(description="Bi-encoder name or path (resolved like `retriever eval --model`).")
    data: str = Field(description="Dataset path or name; only its corpus is indexed.")
    output: Path = Field(description="Index directory to create (must be empty or absent).")
    encoder: EncoderConfig = Field(default_factory=EncoderConfig)
    index: IndexConfig = Field(default_factory=IndexConfig)
    bm25: BM25Config | None = Field(
        None, description="Also save a BM25 index (needed for bm25/hybrid serving)."
    )
    expansion: ExpansionConfig = Field(
        default_factory=ExpansionConfig,
        description="Document expansion with the labelled queries of a split (off by default); the split's "
        "queries are then no fair test of the index.",
    )
    cache: bool = Field(True, description="Read and write corpus vectors in the on-disk embedding cache.")
    cache_dir: Path | None = Field(None, description="Embedding cache root (default $RETRIEVER_CACHE_HOME).")

    @model_validator(mode="after")
    def _one_document_text(self) -> IndexBuildConfig:
        """The BM25 part indexes the same title + separator + text as the encoder: it follows
        ``encoder.title_separator`` unless set to something else explicitly, which is an error."""
        if self.bm25 is None or self.bm25.title_separator == self.encoder.title_separator:
            return self
        if "title_separator" in self.bm25.model_fields_set:
            raise ValueError(
                f"bm25.title_separator {self.bm25.title_separator!r} differs from encoder.title_separator "
                f"{self.encoder.title_separator!r}: an index has one document text"
            )
        self.bm25 = self.bm25.model_copy(update={"title_separator": self.encoder.title_separator})
        return self
