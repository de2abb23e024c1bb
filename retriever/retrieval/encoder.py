"""Turn queries and documents into float32 vectors with a sentence-transformers bi-encoder.

Encoding runs in float32 unless ``precision`` is bf16 (autocast; the vectors are returned as float32 either
way). Batching and length sorting are sentence-transformers' own: ``SentenceTransformer.encode`` sorts inputs by
length (longest first), encodes in ``batch_size`` chunks and restores the input order, so nothing is re-sorted
here. Vectors are unit-normalised when the model's similarity is cosine (already true when the model ends in
a ``Normalize`` module), so inner product equals the model's similarity; dot-product models are left as is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retriever.data.dataset import Corpus
from retriever.errors import InputError
from retriever.retrieval.config import EncoderConfig
from retriever.retrieval.models import load_bi_encoder, resolve_model

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DOCUMENT_PROMPT_NAMES = ("document", "passage", "corpus")


def _files_fingerprint(directory: Path) -> str:
    """sha256 (16 hex) of every file's relative path, size and mtime under ``directory``."""
    digest = hashlib.sha256()
    for file in sorted(p for p in directory.rglob("*") if p.is_file()):
        stat = file.stat()
        digest.update(f"{file.relative_to(directory)}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _weights_fingerprint(model: SentenceTransformer) -> str:
    """sha256 (16 hex) of the module structure and every parameter/buffer's bytes (for in-memory models)."""
    import torch

    digest = hashlib.sha256(repr(model).encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


class Encoder:
    """A bi-encoder with the settings that change its vectors.

    ``model`` is a name or path (resolved by :func:`~retriever.retrieval.models.resolve_model`) or an
    already-loaded ``SentenceTransformer`` (e.g. the trainer's model, evaluated in memory); ``name`` labels it
    in reports. ``progress`` shows sentence-transformers' batch progress bar.
    """

    def __init__(
        self,
        model: str | Path | SentenceTransformer,
        config: EncoderConfig | None = None,
        *,
        name: str | None = None,
        progress: bool = True,
    ) -> None:
        self.config = config or EncoderConfig()
        self.progress = progress
        if isinstance(model, str | Path):
            self.source: str | None = resolve_model(str(model))
            self.name = name or str(model)
            self.model = load_bi_encoder(self.source, device=self.config.device)
        else:
            self.source = None
            self.name = name or "in-memory"
            self.model = model
        if self.similarity not in ("cosine", "dot"):
            raise InputError(
                f"model similarity {self.similarity!r} is not supported: dense retrieval needs cosine or dot",
                field="model",
            )
        self._source_fingerprint: str | None = None

    @property
    def similarity(self) -> str:
        """The model's similarity function name (``cosine`` or ``dot``)."""
        return str(self.model.similarity_fn_name)

    @property
    def has_normalize_module(self) -> bool:
        from sentence_transformers.base.modules.normalize import Normalize

        return any(isinstance(module, Normalize) for module in self.model)

    @property
    def normalized(self) -> bool:
        """True when output vectors are unit length (cosine models, or a Normalize module)."""
        return self.similarity == "cosine" or self.has_normalize_module

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_seq_length(self) -> int | None:
        return self.config.max_seq_length or self.model.max_seq_length

    def query_prompt(self) -> str:
        """The configured query prompt, else the model's own ``query`` prompt, else empty."""
        return self.config.query_prompt or self.model.prompts.get("query", "")

    def document_prompt(self) -> str:
        """The configured document prompt, else the model's ``document``/``passage``/``corpus`` prompt."""
        own = (self.model.prompts.get(name) for name in DOCUMENT_PROMPT_NAMES)
        return self.config.document_prompt or next((p for p in own if p), "")

    def identity(self) -> str:
        """What the vectors depend on besides text: the model's files (path models) or weights (in memory)."""
        if self.source is not None and Path(self.source).is_dir():
            if self._source_fingerprint is None:
                self._source_fingerprint = _files_fingerprint(Path(self.source))
            return f"{self.source}@{self._source_fingerprint}"
        return f"{self.name}@{_weights_fingerprint(self.model)}"

    def describe(self) -> dict[str, Any]:
        """The manifest entry: model, resolved source, similarity, normalisation, dimension and settings."""
        return {
            "model": self.name,
            "source": self.source,
            "similarity": self.similarity,
            "normalized": self.normalized,
            "dimension": self.dimension,
            "max_seq_length": self.max_seq_length,
            "query_prompt": self.query_prompt(),
            "document_prompt": self.document_prompt(),
            "title_separator": self.config.title_separator,
            "batch_size": self.config.batch_size,
            "precision": self.config.precision,
        }

    @contextmanager
    def _max_length(self) -> Iterator[None]:
        """Apply ``config.max_seq_length`` for the duration of a call, restoring the model's own value."""
        original = self.model.max_seq_length
        if self.config.max_seq_length is not None:
            self.model.max_seq_length = self.config.max_seq_length
        try:
            yield
        finally:
            self.model.max_seq_length = original

    @contextmanager
    def _autocast(self) -> Iterator[None]:
        """bf16 autocast on the model's device when ``config.precision`` is bf16; nothing for fp32."""
        import torch

        enabled = self.config.precision == "bf16"
        with torch.autocast(self.model.device.type, dtype=torch.bfloat16, enabled=enabled):
            yield

    def _encode(self, texts: Sequence[str], prompt: str, progress: bool | None = None) -> np.ndarray:
        with self._max_length(), self._autocast():
            vectors = self.model.encode(
                list(texts),
                prompt=prompt or None,
                batch_size=self.config.batch_size,
                show_progress_bar=self.progress if progress is None else progress,
                normalize_embeddings=self.similarity == "cosine" and not self.has_normalize_module,
                convert_to_numpy=True,
            )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def encode_queries(self, texts: Sequence[str], progress: bool | None = None) -> np.ndarray:
        """Query vectors, shape (len(texts), dimension), float32; ``progress`` overrides the encoder's
        own setting for this call (a caller with its own bar passes False)."""
        return self._encode(texts, self.query_prompt(), progress)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Document vectors, shape (len(texts), dimension), float32."""
        return self._encode(texts, self.document_prompt())

    def document_texts(self, corpus: Corpus) -> Sequence[str]:
        """The corpus as encoded: title + ``title_separator`` + text, joined as rows are read (a shard at a
        time, so a memory-mapped corpus is never held whole)."""
        return corpus.joined_view(self.config.title_separator)

    def cache_key_fields(self, corpus: Corpus) -> dict[str, Any]:
        """Everything the corpus vectors depend on (the embedding-cache key)."""
        return {
            "model": self.identity(),
            "corpus": corpus.fingerprint,
            "documents": len(corpus),
            "max_seq_length": self.max_seq_length,
            "document_prompt": self.document_prompt(),
            "title_separator": self.config.title_separator,
            "normalized": self.normalized,
            "dimension": self.dimension,
            "precision": self.config.precision,
        }

    def cache_key(self, corpus: Corpus) -> str:
        """sha256 (24 hex) of :meth:`cache_key_fields`."""
        blob = json.dumps(self.cache_key_fields(corpus), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:24]
