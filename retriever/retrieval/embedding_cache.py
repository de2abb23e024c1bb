"""On-disk cache of corpus vectors: sharded, resumable, atomic, memory-mapped.

Layout: ``<root>/<key>/`` with ``key.json`` (the fields hashed into the key, see
:meth:`~retriever.retrieval.encoder.Encoder.cache_key_fields`: model identity, corpus fingerprint, max length,
document prompt, title separator), ``shard-00000.npy`` ... while encoding, and finally ``embeddings.npy``
(float32, shape (documents, dimension), corpus order). Every file is written to a temporary name and renamed,
so a crash never leaves a truncated file under a final name; finished shards are kept, so an interrupted
encode resumes at the first missing shard. The result is opened with ``mmap_mode="r"``, so a corpus larger
than RAM is never loaded whole. ``root`` defaults to ``$RETRIEVER_CACHE_HOME`` or
``~/.cache/retriever/embeddings``; ``shard_size`` to ``$RETRIEVER_CACHE_SHARD_ROWS`` or 20,000 rows.

Under torchrun (:mod:`retriever.distributed`) rank ``r`` of ``n`` owns shards ``r, r + n, ...`` and encodes those missing;
after a barrier rank 0 assembles ``embeddings.npy`` and, after a second one, every rank reads it. Shards are
the same rows whatever the number of processes, so the file is the one a single process writes, and an
interrupted sharded encode resumes with any number of processes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from retriever import distributed
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

    def __init__(self, root: str | Path | None = None, shard_size: int | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.shard_size = shard_size or int(os.environ.get("RETRIEVER_CACHE_SHARD_ROWS", "20000"))

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
        rank, size = distributed.world()
        # owned by index, so another rank's finished shards never move a shard to another owner
        owned = list(zip(starts, shards, strict=True))[rank::size]
        mine = [(start, shard) for start, shard in owned if not shard.is_file()]
        desc = "corpus shards" if size == 1 else f"corpus shards (rank {rank} of {size})"
        for start, shard in tqdm(mine, desc=desc, unit="shard", disable=len(shards) < 2):
            with atomic_open(shard, "wb") as handle:
                np.save(handle, encoder.encode_documents(texts[start : start + self.shard_size]))
        distributed.barrier()
        if rank == 0:
            self._assemble(shards, final, (len(texts), encoder.dimension))
        distributed.barrier()
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
