"""On-disk cache of corpus vectors: sharded, resumable, atomic, memory-mapped.

Layout: ``<root>/<key>/`` with ``key.json`` (the fields hashed into the key, see
:meth:`~retriever.retrieval.encoder.Encoder.cache_key_fields`: model identity, corpus fingerprint, max length,
document prompt, title separator), ``shard-00000.npy`` ... while encoding, and finally ``embeddings.npy``
(float32, shape (documents, dimension), corpus order). Every file is written to a temporary name and renamed,
so a crash never leaves a truncated file under a final name; finished shards are kept, so an interrupted
encode resumes at the first missing shard. The result is opened with ``mmap_mode="r"``, so a corpus larger
than RAM is never loaded whole. ``root`` defaults to ``$RETRIEVER_CACHE_HOME`` or
``~/.cache/retriever/embeddings``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from retriever.data.dataset import Corpus
from retriever.files import atomic_open, atomic_path, atomic_write_json
from retriever.retrieval.encoder import Encoder

FINAL_NAME = "embeddings.npy"


def default_cache_dir() -> Path:
    """``$RETRIEVER_CACHE_HOME`` when set, else ``~/.cache/retriever/embeddings``."""
    env = os.environ.get("RETRIEVER_CACHE_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "retriever" / "embeddings"


class EmbeddingCache:
    """Corpus vectors keyed by :meth:`Encoder.cache_key`, encoded and saved ``shard_size`` rows at a time."""

    def __init__(self, root: str | Path | None = None, shard_size: int = 20_000) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.shard_size = shard_size

    def directory(self, encoder: Encoder, corpus: Corpus) -> Path:
        return self.root / encoder.cache_key(corpus)

    def contains(self, encoder: Encoder, corpus: Corpus) -> bool:
        return (self.directory(encoder, corpus) / FINAL_NAME).is_file()

    def corpus_embeddings(self, encoder: Encoder, corpus: Corpus) -> np.ndarray:
        """The corpus vectors, read-only memory-mapped; only the shards not yet on disk are encoded."""
        directory = self.directory(encoder, corpus)
        final = directory / FINAL_NAME
        if final.is_file():
            return np.load(final, mmap_mode="r")
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_json(directory / "key.json", encoder.cache_key_fields(corpus), sort_keys=True)
        texts = encoder.document_texts(corpus)
        starts = range(0, len(texts), self.shard_size)
        shards = [directory / f"shard-{i:05d}.npy" for i in range(len(starts))]
        todo = [(start, shard) for start, shard in zip(starts, shards, strict=True) if not shard.is_file()]
        for start, shard in tqdm(todo, desc="corpus shards", unit="shard", disable=len(shards) < 2):
            with atomic_open(shard, "wb") as handle:
                np.save(handle, encoder.encode_documents(texts[start : start + self.shard_size]))
        self._assemble(shards, final, (len(texts), encoder.dimension))
        return np.load(final, mmap_mode="r")

    @staticmethod
    def _assemble(shards: list[Path], final: Path, shape: tuple[int, int]) -> None:
        """Concatenate the shards into ``final`` through a memory-mapped temporary file; drop the shards."""
        with atomic_path(final) as tmp:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
            row = 0
            for shard in shards:
                block = np.load(shard, mmap_mode="r")
                out[row : row + len(block)] = block
                row += len(block)
            if row != shape[0]:
                raise RuntimeError(f"embedding shards hold {row} rows, expected {shape[0]}")
            out.flush()
            del out
        for shard in shards:
            shard.unlink()
