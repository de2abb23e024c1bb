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
            # no bar of its own: one per chunk would flood the terminal under the pairs bar
            vectors = self._encoder.encode_queries([self._dataset.queries[q] for q in new], progress=False)
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

    def query_scores(self, teacher: str, query_id: str) -> dict[str, float]:
        """Every cached score of ``query_id`` under ``teacher``, by passage id (an index lookup)."""
        rows = self._db.execute(
            "SELECT passage_id, score FROM scores WHERE teacher = ? AND query_id = ?", (teacher, query_id)
        )
        return dict(rows.fetchall())

    def put(self, teacher: str, pairs: Sequence[Pair], scores: Iterable[float]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)",
            [(teacher, q, p, float(s)) for (q, p), s in zip(pairs, scores, strict=True)],
        )
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ScoreCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class TeacherScores:
    """Read side of the teacher phase: one query's scores at a time, straight from the cache, so no
    (query, passage) dictionary of the whole run is ever held."""

    def __init__(self, cache: ScoreCache, teacher_key: str) -> None:
        self._cache = cache
        self._key = teacher_key

    def of(self, query_id: str, docs: Iterable[str]) -> dict[str, float]:
        """{doc: score} of ``query_id`` for ``docs`` (every one scored by :func:`score_pairs`)."""
        cached = self._cache.query_scores(self._key, query_id)
        return {doc: cached[doc] for doc in docs}


def score_pairs(
    teacher: Teacher, cache: ScoreCache, pairs_by_query: Iterable[tuple[str, list[str]]], total: int
) -> tuple[int, int]:
    """Score every (query, passage) pair of ``pairs_by_query`` (``total`` of them) that ``cache`` lacks,
    ``CHUNK`` pairs per teacher call, each chunk committed before the next; returns (pairs, cache hits).

    Pairs are streamed query by query: only the pending chunk is in memory, whatever the run's size."""
    pending: list[Pair] = []
    seen = hits = 0

    def flush() -> None:
        cache.put(teacher.key, pending, teacher.score(pending))
        bar.update(len(pending))
        pending.clear()

    with tqdm(total=total, desc=f"teacher ({teacher.kind})", unit="pair") as bar:
        for query_id, docs in pairs_by_query:
            cached = cache.query_scores(teacher.key, query_id)
            wanted = list(dict.fromkeys(docs))
            seen += len(wanted)
            missing = [doc for doc in wanted if doc not in cached]
            hits += len(wanted) - len(missing)
            bar.update(len(wanted) - len(missing))
            for doc in missing:
                pending.append((query_id, doc))
                if len(pending) == CHUNK:
                    flush()
        if pending:
            flush()
    return seen, hits


def load_teacher(config: TeacherConfig, dataset: Dataset, encoder, embedding_cache) -> Teacher:
    """The cross-encoder of ``config.model`` when given, else the cosine of ``encoder()`` (a callable giving
    the candidates' bi-encoder) over the cached corpus vectors."""
    if config.model:
        return CrossEncoderTeacher(config.model, config, dataset)
    from retriever.retrieval.search import corpus_embeddings

    return BiEncoderTeacher(encoder(), corpus_embeddings(encoder(), dataset.corpus, embedding_cache), dataset)
