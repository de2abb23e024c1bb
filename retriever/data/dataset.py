"""The one in-memory dataset model every reader produces and every stage consumes.

Contract: ``corpus`` holds parallel lists (ids, titles, texts) with unique ids; ``queries`` maps query id to
text; ``qrels`` maps query id to {doc id: graded relevance (int)}; ``answers`` (NQ/DPR style) maps query id to
acceptable answer strings, used by top-k answer accuracy. ``Run`` is the pytrec_eval shape
{query id: {doc id: score}}.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

Qrels = dict[str, dict[str, int]]
Run = dict[str, dict[str, float]]


@dataclass(frozen=True)
class Corpus:
    """Documents as parallel sequences; ``ids[i]`` has title ``titles[i]`` and body ``texts[i]``.

    ``titles`` and ``texts`` are lists, or for a corpus read from a file the memory-mapped columns of the corpus
    store (:mod:`retriever.data.corpus_store`), which give the same strings; ``known_fingerprint`` is the
    store's recorded :attr:`fingerprint`, so that it is not hashed again."""

    ids: list[str]
    titles: Sequence[str]
    texts: Sequence[str]
    known_fingerprint: str | None = field(default=None, compare=False, repr=False)

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
        return list(self.joined_view(separator))

    def joined_view(self, separator: str = " ") -> JoinedTexts:
        """:meth:`joined` as a lazy sequence: a row is joined when it is read (a shard at a time for encoding)."""
        return JoinedTexts(self.titles, self.texts, separator)

    def document(self, doc_id: str, separator: str = " ") -> str:
        """The joined text of one document."""
        i = self.position[doc_id]
        return join_title(self.titles[i], self.texts[i], separator)

    @cached_property
    def fingerprint(self) -> str:
        """A content hash (sha256, 16 hex chars) of ids, titles and texts in order: any change alters it."""
        if self.known_fingerprint:
            return self.known_fingerprint
        fingerprint = Fingerprint()
        for doc_id, title, text in zip(self.ids, self.titles, self.texts, strict=True):
            fingerprint.add(doc_id, title, text)
        return fingerprint.hexdigest()


class Fingerprint:
    """:attr:`Corpus.fingerprint` computed as documents arrive: sha256 over each document's id, title and
    text (each followed by ``0x1f``, the document by ``0x1e``), the first 16 hex chars."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()

    def add(self, doc_id: str, title: str, text: str) -> None:
        for part in (doc_id, title, text):
            self._digest.update(part.encode("utf-8"))
            self._digest.update(b"\x1f")
        self._digest.update(b"\x1e")

    def hexdigest(self) -> str:
        return self._digest.hexdigest()[:16]


def join_title(title: str, text: str, separator: str) -> str:
    """``title + separator + text``, or ``text`` alone when the title is empty."""
    return f"{title}{separator}{text}" if title else text


class JoinedTexts(Sequence[str]):
    """The rows ``join_title(titles[i], texts[i], separator)``, joined when read."""

    def __init__(self, titles: Sequence[str], texts: Sequence[str], separator: str) -> None:
        self.titles, self.texts, self.separator = titles, texts, separator

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: int | slice) -> str | list[str]:  # type: ignore[override]
        """Row ``index`` as a string; a slice gives a list."""
        if isinstance(index, slice):
            pairs = zip(self.titles[index], self.texts[index], strict=True)
            return [join_title(title, text, self.separator) for title, text in pairs]
        return join_title(self.titles[index], self.texts[index], self.separator)

    def __iter__(self) -> Iterator[str]:
        for title, text in zip(self.titles, self.texts, strict=True):
            yield join_title(title, text, self.separator)


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
