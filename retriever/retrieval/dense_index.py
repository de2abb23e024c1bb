"""FAISS inner-product index over document vectors, with the document ids in index order.

Scores are inner products; for cosine models the :class:`~retriever.retrieval.encoder.Encoder` already
normalises vectors, so inner product = cosine. Index types (parameters in
:class:`~retriever.retrieval.config.IndexConfig`):

- ``flat``: ``IndexFlatIP``, exact.
- ``hnsw``: ``IndexHNSWFlat`` (M, efConstruction, efSearch), approximate graph search, CPU only.
- ``ivfpq``: ``IndexIVFPQ`` (nlist, m, nbits; nprobe at search), trained on a seeded sample of at most
  ``train_sample`` vectors; needs at least ``max(nlist, 2**nbits)`` vectors and ``m`` dividing the dimension.

Flat and IVF-PQ indexes move to every GPU when faiss was built with GPU support and ``use_gpu`` is set.
A saved index directory holds ``index.faiss`` (CPU form), ``ids.json`` and ``index.json`` (type, parameters,
dimension, size and any caller metadata such as the encoder description and corpus fingerprint).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from retriever.errors import InputError
from retriever.retrieval.config import IndexConfig

ADD_CHUNK = 65_536


def _faiss():
    import faiss

    return faiss


def _gpu_count() -> int:
    faiss = _faiss()
    return faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0


def _on_gpu(config: IndexConfig) -> bool:
    """Whether an index of this config lives on the GPUs (HNSW has no GPU form)."""
    return config.use_gpu and config.type != "hnsw" and _gpu_count() > 0


def _new_index(config: IndexConfig, dimension: int, size: int):
    faiss = _faiss()
    if config.type == "flat":
        return faiss.IndexFlatIP(dimension)
    if config.type == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = config.hnsw_ef_construction
        return index
    if dimension % config.pq_m:
        raise InputError(
            f"pq_m={config.pq_m} must divide the embedding dimension {dimension}", field="index.pq_m"
        )
    needed = max(config.ivf_nlist, 2**config.pq_nbits)
    if size < needed:
        raise InputError(
            f"the corpus has {size} documents, too few to train ivfpq (needs >= {needed} for "
            f"ivf_nlist={config.ivf_nlist}, pq_nbits={config.pq_nbits}): lower them or use the flat index",
            field="index.ivf_nlist",
        )
    quantizer = faiss.IndexFlatIP(dimension)
    return faiss.IndexIVFPQ(
        quantizer, dimension, config.ivf_nlist, config.pq_m, config.pq_nbits, faiss.METRIC_INNER_PRODUCT
    )


class DenseIndex:
    """A FAISS index plus ``ids`` (row i of the index is document ``ids[i]``)."""

    def __init__(
        self, index: Any, ids: list[str], config: IndexConfig, metadata: dict[str, Any] | None = None
    ):
        self.index = index
        self.ids = ids
        self.config = config
        self.metadata = metadata or {}
        self._apply_search_params()

    @classmethod
    def build(
        cls,
        embeddings: np.ndarray,
        ids: list[str],
        config: IndexConfig | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> DenseIndex:
        """Index ``embeddings`` (rows aligned with ``ids``; a memory map is read in chunks)."""
        config = config or IndexConfig()
        size, dimension = embeddings.shape
        if size != len(ids):
            raise ValueError(f"{size} embeddings for {len(ids)} ids")
        index = _new_index(config, dimension, size)
        if config.type == "ivfpq":
            rng = np.random.default_rng(config.seed)
            sample = np.sort(rng.choice(size, size=min(size, config.train_sample), replace=False))
            index.cp.seed = index.pq.cp.seed = config.seed
            index.train(np.ascontiguousarray(embeddings[sample], dtype=np.float32))
        index = cls._to_gpu(index, config)
        for start in tqdm(range(0, size, ADD_CHUNK), desc=f"index {config.type}", disable=size <= ADD_CHUNK):
            index.add(np.ascontiguousarray(embeddings[start : start + ADD_CHUNK], dtype=np.float32))
        return cls(index, list(ids), config, metadata)

    @staticmethod
    def _to_gpu(index: Any, config: IndexConfig) -> Any:
        if _on_gpu(config):
            return _faiss().index_cpu_to_all_gpus(index)
        return index

    def _apply_search_params(self) -> None:
        faiss = _faiss()
        if self.config.type == "hnsw":
            self.index.hnsw.efSearch = self.config.hnsw_ef_search
        elif self.config.type == "ivfpq":
            space = faiss.GpuParameterSpace() if _on_gpu(self.config) else faiss.ParameterSpace()
            space.set_index_parameter(self.index, "nprobe", self.config.ivf_nprobe)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(
        self, queries: np.ndarray, k: int, batch_size: int = 4096, progress: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, row indices) per query, best first; ``k`` is capped at the index size and rows
        FAISS could not fill are -1 (scores -inf)."""
        k = min(k, len(self))
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        for start in tqdm(range(0, len(queries), batch_size), desc="search", disable=not progress):
            chunk_scores, chunk_rows = self.index.search(queries[start : start + batch_size], k)
            scores[start : start + len(chunk_rows)] = chunk_scores
            rows[start : start + len(chunk_rows)] = chunk_rows
        scores[rows < 0] = -np.inf
        return scores, rows

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of ``rows`` (any shape), float32 of shape ``rows.shape + (dimension,)``; a row of
        -1 (a slot :meth:`search` could not fill) gives zeros. Flat and HNSW indexes keep exact vectors; IVF-PQ
        keeps only codes, so it raises."""
        if self.config.type == "ivfpq":
            raise InputError(
                "dense pseudo-relevance feedback needs the documents' vectors: use a flat or hnsw index "
                "(ivfpq stores compressed codes)",
                field="index.type",
            )
        flat = np.asarray(rows, dtype=np.int64).ravel()
        out = np.zeros((flat.size, self.index.d), dtype=np.float32)
        filled = flat >= 0
        if filled.any():
            out[filled] = self.index.reconstruct_batch(flat[filled])
        return out.reshape(*np.shape(rows), self.index.d)

    def save(self, directory: str | Path) -> Path:
        """Write ``index.faiss``, ``ids.json`` and ``index.json`` into ``directory``."""
        faiss = _faiss()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        cpu_index = faiss.index_gpu_to_cpu(self.index) if _on_gpu(self.config) else self.index
        faiss.write_index(cpu_index, str(directory / "index.faiss"))
        (directory / "ids.json").write_text(json.dumps(self.ids))
        manifest = {
            "config": self.config.model_dump(),
            "dimension": int(self.index.d),
            "size": len(self),
            "metric": "inner_product",
            "metadata": self.metadata,
        }
        (directory / "index.json").write_text(json.dumps(manifest, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path, use_gpu: bool | None = None) -> DenseIndex:
        """Read an index saved by :meth:`save` (``use_gpu`` overrides the saved setting)."""
        directory = Path(directory)
        for name in ("index.faiss", "ids.json", "index.json"):
            if not (directory / name).is_file():
                raise InputError(f"not an index directory: {name} is missing", path=directory)
        manifest = json.loads((directory / "index.json").read_text())
        config = IndexConfig.model_validate(manifest["config"])
        if use_gpu is not None:
            config = config.model_copy(update={"use_gpu": use_gpu})
        index = cls._to_gpu(_faiss().read_index(str(directory / "index.faiss")), config)
        ids = json.loads((directory / "ids.json").read_text())
        return cls(index, ids, config, manifest.get("metadata"))
