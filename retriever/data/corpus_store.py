"""A corpus read once into a memory-mapped Arrow file that every stage shares.

The first read of a corpus file (BEIR ``corpus.jsonl``, MS MARCO ``collection.tsv``, DPR passages) parses it
with the reader's checks and one-line errors and streams the documents, a batch at a time, into
``<store>/<key>.arrow``: an Arrow IPC file with the columns ``id``, ``title``, ``text`` in file order, next to
``<key>.json`` with the corpus fingerprint and size. ``key`` is the sha256 of the file's bytes and
:data:`FORMAT`, so an edited file never meets a stale store, and a parse that fails leaves nothing. That read
and every later one (each ``retriever`` command is its own process) memory-map the Arrow file: titles and
texts stay on disk and are paged in by the OS as a stage touches them (one passage for a training row, a
shard of rows for encoding); only the ids become Python strings. The store is ``$RETRIEVER_CACHE_HOME/corpora``,
else ``~/.cache/retriever/corpora``; a store that cannot be written (a read-only cache) or read back is skipped
with a warning (the corpus is then held in memory as before), never an error; so is one whose writes fail
part-way (a full disk): the file is then parsed again into memory.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

from retriever.data.dataset import Corpus
from retriever.data.parsing import CorpusBuilder
from retriever.files import atomic_path, atomic_write_json

logger = logging.getLogger(__name__)

FORMAT = "corpus-store-1"
BATCH_ROWS = 8192  # rows per record batch written, and converted to Python strings at a time when iterated


def store_dir() -> Path:
    """``$RETRIEVER_CACHE_HOME/corpora``, else ``~/.cache/retriever/corpora``."""
    root = os.environ.get("RETRIEVER_CACHE_HOME")
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "retriever") / "corpora"


class ArrowStrings(Sequence[str]):
    """A read-only sequence of ``str`` over an Arrow string column; values become Python strings only when
    read (one per index, a list per slice, :data:`BATCH_ROWS` at a time when iterated)."""

    def __init__(self, column: Any) -> None:
        self.column = column

    def __len__(self) -> int:
        return len(self.column)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            return self.column.slice(start, max(stop - start, 0)).to_pylist()
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} rows")
        return self.column[position].as_py()

    def __iter__(self) -> Iterator[str]:
        for start in range(0, len(self), BATCH_ROWS):
            yield from self.column.slice(start, BATCH_ROWS).to_pylist()

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence of the same strings in the same order (a list, as the readers gave before)."""
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable-looking equality, like list


def _column(values: Sequence[str]) -> Any:
    import pyarrow as pa

    return values.column if isinstance(values, ArrowStrings) else pa.array(list(values), type=pa.string())


def corpus_table(corpus: Corpus) -> Any:
    """The corpus as an Arrow table (``id``, ``title``, ``text``); zero-copy for a stored corpus."""
    import pyarrow as pa

    return pa.table(
        {"id": _column(corpus.ids), "title": _column(corpus.titles), "text": _column(corpus.texts)}
    )


def write_arrow(table: Any, path: Path) -> None:
    """Write ``table`` to ``path`` as one Arrow IPC file, atomically."""
    import pyarrow as pa

    with atomic_path(path) as tmp:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)


def read_arrow(path: Path) -> Any:
    """The table of an Arrow IPC file, memory-mapped (nothing is copied into RAM)."""
    import pyarrow as pa

    return pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()


def corpus_from_table(table: Any, fingerprint: str | None = None, ids: list[str] | None = None) -> Corpus:
    """A corpus over a table's ``id``, ``title``, ``text`` columns; titles and texts stay in Arrow (``ids``,
    when the caller holds them already, instead of the table's)."""
    return Corpus(
        ids=table.column("id").to_pylist() if ids is None else ids,
        titles=ArrowStrings(table.column("title")),
        texts=ArrowStrings(table.column("text")),
        known_fingerprint=fingerprint,
    )


def file_key(path: Path) -> str:
    """sha256 (24 hex) of :data:`FORMAT` and the bytes of ``path``."""
    digest = hashlib.sha256(FORMAT.encode())
    with open(path, "rb") as handle:
        for block in iter(functools.partial(handle.read, 1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:24]


class StoreWriteError(OSError):
    """Writing the store failed after it was opened (a full disk, a quota): the read falls back to memory."""


class StoreWriter:
    """A :class:`~retriever.data.parsing.CorpusSink` that streams record batches into ``<stored>`` (through a
    temporary file, renamed when :meth:`finish` has written the sidecar ``<stored>.json`` with the
    fingerprint); :meth:`discard` removes the temporary file of a parse that failed."""

    def __init__(self, stored: Path) -> None:
        import pyarrow as pa

        self.stored = stored
        self.tmp = stored.with_name(f".{stored.name}.{os.getpid()}.tmp")
        self._schema = pa.schema([("id", pa.string()), ("title", pa.string()), ("text", pa.string())])
        self._sink: Any = None
        self._writer: Any = None
        with _store_errors(stored):  # an unwritable store fails here, before parsing
            stored.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._sink = pa.OSFile(str(self.tmp), "wb")
                self._writer = pa.ipc.new_file(self._sink, self._schema)
            except BaseException:
                self.discard()
                raise

    def write(self, ids: list[str], titles: list[str], texts: list[str]) -> None:
        import pyarrow as pa

        batch = pa.record_batch([ids, titles, texts], schema=self._schema)
        with _store_errors(self.tmp):
            self._writer.write_batch(batch)

    def finish(self, ids: list[str], fingerprint: str) -> Corpus:
        sidecar = {"format": FORMAT, "fingerprint": fingerprint, "documents": len(ids)}
        with _store_errors(self.stored):
            self._close()
            atomic_write_json(self.stored.with_suffix(".json"), sidecar)
            os.replace(self.tmp, self.stored)
        return corpus_from_table(read_arrow(self.stored), fingerprint, ids)

    def discard(self) -> None:
        with contextlib.suppress(OSError):  # closing a file on a full disk fails again: it is removed anyway
            self._close()
        self.tmp.unlink(missing_ok=True)

    def _close(self) -> None:
        writer, sink, self._writer, self._sink = self._writer, self._sink, None, None
        if writer is not None:
            writer.close()
        if sink is not None:
            sink.close()


@contextlib.contextmanager
def _store_errors(path: Path) -> Iterator[None]:
    """Re-raise an I/O error of the store's own writes as :class:`StoreWriteError` (an error reading the
    corpus file stays what it is)."""
    try:
        yield
    except OSError as exc:
        raise StoreWriteError(f"writing {path}: {exc}") from exc


def _open_stored(stored: Path) -> Corpus:
    """The stored corpus, memory-mapped; its sidecar must match the Arrow file."""
    sidecar = json.loads(stored.with_suffix(".json").read_text())
    table = read_arrow(stored)
    if sidecar.get("format") != FORMAT or sidecar.get("documents") != table.num_rows:
        raise ValueError(f"sidecar {sidecar} does not describe {table.num_rows} rows of {FORMAT}")
    return corpus_from_table(table, sidecar["fingerprint"])


def store_path(path: Path) -> Path:
    """Where the store keeps the corpus of the file ``path``."""
    return store_dir() / f"{file_key(path)}.arrow"


def stored_corpus(path: Path, id_field: str, fill: Callable[[Path, CorpusBuilder], None]) -> Corpus:
    """The corpus of the file ``path``: memory-mapped from the store, or parsed by ``fill(path, builder)``
    into a :class:`CorpusBuilder` that streams it into the store first. A parse error propagates and leaves
    no store file; a store that cannot be read is parsed again; one that cannot be written, or whose writes
    fail part-way, is skipped and the file parsed into memory."""
    import pyarrow as pa

    stored = store_path(path)
    if stored.is_file():
        try:
            return _open_stored(stored)
        except (pa.ArrowException, OSError, KeyError, ValueError) as exc:
            logger.warning("corpus store %s is unreadable (%s); parsing %s again", stored, exc, path)
    try:
        return _parse(path, id_field, fill, StoreWriter(stored))
    except StoreWriteError as exc:  # batches already sent left memory: parse again, keeping them this time
        logger.warning("corpus store %s not written (%s); keeping %s in memory", stored, exc, path)
    return _parse(path, id_field, fill, None)


def _parse(
    path: Path, id_field: str, fill: Callable[[Path, CorpusBuilder], None], writer: StoreWriter | None
) -> Corpus:
    """``fill`` into a builder streaming to ``writer`` (none: in memory); a failed parse leaves no file."""
    builder = CorpusBuilder(path, id_field, sink=writer, batch_rows=BATCH_ROWS)
    try:
        fill(path, builder)
        return builder.build()
    finally:
        if writer is not None:
            writer.discard()  # nothing left to remove once finish() has renamed the file


def stored(id_field: str) -> Callable[[Callable[[Path, CorpusBuilder], None]], Callable[[Path], Corpus]]:
    """Turn ``fill(path, builder)``, a reader that adds a corpus file's documents to a builder, into
    ``read(path) -> Corpus`` through :func:`stored_corpus`."""

    def decorate(fill: Callable[[Path, CorpusBuilder], None]) -> Callable[[Path], Corpus]:
        @functools.wraps(fill)
        def read(path: Path) -> Corpus:
            return stored_corpus(path, id_field, fill)

        return read

    return decorate
