"""The one in-memory dataset model every reader produces and every stage consumes.

Contract: ``corpus`` holds parallel lists (ids, titles, texts) with unique ids; ``queries`` maps query id to
text; ``qrels`` maps query id to {doc id: graded relevance (int)}; ``answers`` (NQ/DPR style) maps query id to
acceptable answer strings, used by top-k answer accuracy. ``Run`` is the pytrec_eval shape
{query id: {doc id: score}}.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

Qrels = dict[str, dict[str, int]]
Run = dict[str, dict[str, float]]


@dataclass(frozen=True)
class Corpus:
    """Documents as parallel lists; ``ids[i]`` has title ``titles[i]`` and body ``texts[i]``."""

    ids: list[str]
    titles: list[str]
    texts: list[str]

    def __post_init__(self) -> None:
        if not (len(self.ids) == len(self.titles) == len(self.texts)):
            raise ValueError("corpus ids, titles and texts must have the same length")

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def position(self) -> dict[str, int]:
        """Doc id -> row index."""
        return {doc_id: i for i, doc_id in enumerate(self.ids)}

    def joined(self, separator: str = " ") -> list[str]:
        """Title and text joined by ``separator`` (the BEIR/MTEB convention is ``title + " " + text``);
        an empty title contributes nothing, so the result never starts with the separator."""
        return [
            f"{title}{separator}{text}" if title else text
            for title, text in zip(self.titles, self.texts, strict=True)
        ]

    def document(self, doc_id: str, separator: str = " ") -> str:
        """The joined text of one document."""
        i = self.position[doc_id]
        title, text = self.titles[i], self.texts[i]
        return f"{title}{separator}{text}" if title else text

    @cached_property
    def fingerprint(self) -> str:
        """A content hash (sha256, 16 hex chars) of ids, titles and texts in order: any change alters it."""
        digest = hashlib.sha256()
        for doc_id, title, text in zip(self.ids, self.titles, self.texts, strict=True):
            for part in (doc_id, title, text):
                digest.update(part.encode("utf-8"))
                digest.update(b"\x1f")
            digest.update(b"\x1e")
        return digest.hexdigest()[:16]


@dataclass
class Dataset:
    """A retrieval dataset: corpus, queries, graded qrels for one split, and optional answers."""

    name: str
    corpus: Corpus
    queries: dict[str, str]
    qrels: Qrels = field(default_factory=dict)
    answers: dict[str, list[str]] | None = None
    split: str | None = None

    def judged_queries(self) -> dict[str, str]:
        """The queries of this split: those with qrels (or answers, for NQ-style data), in query-file order."""
        keep = set(self.qrels) | set(self.answers or {})
        return {qid: text for qid, text in self.queries.items() if qid in keep}
