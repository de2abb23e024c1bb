"""The documents of an index directory: ids, titles and texts in index order, in an Arrow IPC file
(``docs.arrow``) that is memory-mapped when loaded."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from retriever.data.corpus_store import corpus_table, read_arrow, write_arrow
from retriever.data.dataset import Corpus
from retriever.errors import InputError, first_line


class Documents:
    """Document ids, titles and texts in index order, backed by a memory-mapped Arrow file."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.ids: list[str] = table.column("id").to_pylist()
        self.position = {doc_id: row for row, doc_id in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, doc_ids: Sequence[str]) -> list[tuple[str, str]]:
        """(title, text) of each id, in the given order."""
        rows = self.table.take([self.position[doc_id] for doc_id in doc_ids])
        return list(zip(rows.column("title").to_pylist(), rows.column("text").to_pylist(), strict=True))

    @staticmethod
    def write(corpus: Corpus, path: Path) -> None:
        write_arrow(corpus_table(corpus), path)

    @classmethod
    def read(cls, path: Path) -> Documents:
        import pyarrow as pa

        try:
            return cls(read_arrow(path).select(["id", "title", "text"]))
        except (pa.ArrowException, OSError, KeyError) as exc:
            raise InputError(f"corrupt or unreadable documents file ({first_line(exc)})", path=path) from None
