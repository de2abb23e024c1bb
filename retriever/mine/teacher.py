"""Teacher scores for (query, passage) pairs, batched and cached on disk.

Two teachers: a sentence-transformers ``CrossEncoder`` scoring raw logits (no activation: ECI and the margins
work on logits), or, when no cross-encoder is given, the bi-encoder's cosine similarity (query vectors encoded
once, corpus vectors read from the memory-mapped embedding cache). Scores are stored in a SQLite table keyed
by (teacher key, query id, passage id); the teacher key names the model, its kind and the corpus fingerprint,
so changing either never reuses a stale score. Pairs are scored in chunks, each committed before the next.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm.auto import tqdm

from retriever.data.dataset import Dataset
from retriever.errors import InputError, first_line
from retriever.mine.config import TeacherConfig
from retriever.mine.sqlite import connect

Pair = tuple[str, str]
CHUNK = 2048


class Teacher(Protocol):
    """Scores (query id, passage id) pairs; ``kind`` is ``cross-encoder`` or ``bi-encoder``."""

    kind: str
    key: str

    def score(self, pairs: Sequence[Pair]) -> np.ndarray: ...


class CrossEncoderTeacher:
    """Raw logits of a ``CrossEncoder`` over (query text, passage title + " " + text)."""

    kind = "cross-encoder"

    def __init__(
        self, model: str, config: TeacherConfig, dataset: Dataset, device: str | None = None
    ) -> None:
        import torch
        from sentence_transformers import CrossEncoder

        from retriever.retrieval.models import default_device, resolve_model

        source = resolve_model(model)
        check_cross_encoder(model)
        try:
            self.model = CrossEncoder(
                source,
                max_length=config.max_length,
                activation_fn=torch.nn.Identity(),
                device=device or default_device(),
            )
        except Exception as exc:  # loaders raise OSError, ValueError, KeyError ... on a bad checkpoint
            raise InputError(f"cannot load teacher cross-encoder: {first_line(exc)}", path=model) from None
        self.key = f"{self.kind}:{source}@{dataset.corpus.fingerprint}"
        self._batch_size = config.batch_size
        self._dataset = dataset

    def score(self, pairs: Sequence[Pair]) -> np.ndarray:
        texts = [(self._dataset.queries[q], self._dataset.corpus.document(p)) for q, p in pairs]
        scores = self.model.predict(texts, batch_size=self._batch_size, show_progress_bar=False)
        return np.asarray(scores, dtype=np.float64).reshape(len(pairs))


def check_cross_encoder(model: str) -> None:
    """Refuse a local checkpoint without a trained scoring head (e.g. a sentence-transformers bi-encoder):
    ``CrossEncoder`` would load it with a freshly initialised classifier and score every pair at random.
    Raises :class:`InputError` (also for a missing path); hub names are checked when they load."""
    from retriever.retrieval.models import resolve_model

    source = resolve_model(model)
    config_file = Path(source) / "config.json"
    if not config_file.is_file():
        return  # hub names load (or fail) in CrossEncoder itself
    try:
        architectures = json.loads(config_file.read_text(encoding="utf-8")).get("architectures") or []
    except (ValueError, AttributeError):
        return  # unreadable: CrossEncoder reports it
    if architectures and not any(name.endswith("ForSequenceClassification") for name in architectures):
        kind = (
            "a sentence-transformers bi-encoder" if (Path(source) / "modules.json").is_file() else "a model"
        )
        raise InputError(
            f"teacher is {kind} without a trained scoring head ({', '.join(architectures)}), not a "
            "cross-encoder: pass it as --bi-encoder (its cosine similarity is then the teacher) or give a "
            "cross-encoder checkpoint",
            path=model,
        )


class BiEncoderTeacher:
    """Cosine similarity of a bi-encoder's query and (cached) corpus vectors."""

    kind = "bi-encoder"

    def __init__(self, encoder, corpus_vectors: np.ndarray, dataset: Dataset) -> None:
        self._encoder = encoder
        self._corpus = corpus_vectors
        self._dataset = dataset
        self._queries: dict[str, np.ndarray] = {}
        self.key = f"{self.kind}:{encoder.identity()}@{dataset.corpus.fingerprint}"

    def _query_vectors(self, query_ids: Iterable[str]) -> None:
        new = [q for q in dict.fromkeys(query_ids) if q not in self._queries]
        if new:
            vectors = self._encoder.encode_queries([self._dataset.queries[q] for q in new])
            self._queries.update(zip(new, _unit(vectors), strict=True))

    def score(self, pairs: Sequence[Pair]) -> np.ndarray:
        self._query_vectors(q for q, _ in pairs)
        position = self._dataset.corpus.position
        rows = np.array([position[p] for _, p in pairs], dtype=np.int64)
        order = np.argsort(rows, kind="stable")  # sorted reads of the memory map
        docs = np.empty((len(pairs), self._corpus.shape[1]), dtype=np.float32)
        docs[order] = self._corpus[rows[order]]
        queries = np.stack([self._queries[q] for q, _ in pairs])
        return np.einsum("ij,ij->i", queries, _unit(docs)).astype(np.float64)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class ScoreCache:
    """SQLite store of teacher scores, keyed by (teacher key, query id, passage id)."""

    def __init__(self, path: str | Path) -> None:
        self._db = connect(path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS scores (teacher TEXT NOT NULL, query_id TEXT NOT NULL, "
            "passage_id TEXT NOT NULL, score REAL NOT NULL, PRIMARY KEY (teacher, query_id, passage_id))"
        )
        self._db.commit()

    def load(self, teacher: str) -> dict[Pair, float]:
        rows = self._db.execute(
            "SELECT query_id, passage_id, score FROM scores WHERE teacher = ?", (teacher,)
        )
        return {(q, p): s for q, p, s in rows}

    def put(self, teacher: str, pairs: Sequence[Pair], scores: Iterable[float]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)",
            [(teacher, q, p, float(s)) for (q, p), s in zip(pairs, scores, strict=True)],
        )
        self._db.commit()

    def close(self) -> None:
        self._db.close()


def score_pairs(
    teacher: Teacher, cache_path: str | Path, pairs: Iterable[Pair]
) -> tuple[dict[Pair, float], int]:
    """Teacher scores of every pair (duplicates scored once) and how many came from the cache."""
    cache = ScoreCache(cache_path)
    try:
        known = cache.load(teacher.key)
        wanted = list(dict.fromkeys(pairs))
        missing = [pair for pair in wanted if pair not in known]
        for start in tqdm(range(0, len(missing), CHUNK), desc=f"teacher ({teacher.kind})", unit="chunk"):
            chunk = missing[start : start + CHUNK]
            scores = teacher.score(chunk)
            cache.put(teacher.key, chunk, scores)
            known.update(zip(chunk, (float(s) for s in scores), strict=True))
    finally:
        cache.close()
    return {pair: known[pair] for pair in wanted}, len(wanted) - len(missing)


def load_teacher(config: TeacherConfig, dataset: Dataset, encoder, embedding_cache) -> Teacher:
    """The cross-encoder of ``config.model`` when given, else the cosine of ``encoder()`` (a callable giving
    the candidates' bi-encoder) over the cached corpus vectors."""
    if config.model:
        return CrossEncoderTeacher(config.model, config, dataset)
    from retriever.retrieval.search import corpus_embeddings

    return BiEncoderTeacher(encoder(), corpus_embeddings(encoder(), dataset.corpus, embedding_cache), dataset)
