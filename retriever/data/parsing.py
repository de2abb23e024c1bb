"""Line-numbered parsing shared by the dataset readers (BEIR, MS MARCO, DPR, Hugging Face).

Files may be plain or gzip-compressed (``name`` or ``name.gz``) and are streamed line by line. Every problem
is an :class:`InputError` naming the file, the 1-based line (or row) and the field. Two problems are tolerated
as BEIR tolerates them, with one counted warning each: judgments naming unknown documents or queries (the
pairs are dropped), documents whose title and text are both empty, queries with an empty text and negative
grades (all kept).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import sys
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TextIO, TypeVar

from tqdm.auto import tqdm

from retriever.data.dataset import Corpus, Fingerprint, Qrels
from retriever.errors import InputError

logger = logging.getLogger("retriever.data")

_MISSING = object()
T = TypeVar("T")


def find_file(directory: Path, *names: str) -> Path | None:
    """The first of ``names`` (or its ``.gz`` variant) that exists in ``directory``."""
    for name in names:
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def require_file(directory: Path, *names: str) -> Path:
    """Like :func:`find_file`, but a missing file is an InputError naming the expected names."""
    found = find_file(directory, *names)
    if found is None:
        expected = " or ".join(f"{name}[.gz]" for name in names)
        raise InputError(f"missing file: expected {expected}", path=directory)
    return found


def _open(path: Path, *, text: bool) -> BinaryIO | TextIO:
    """Open a file (``.gz`` decompressed transparently) as UTF-8 text or as bytes."""
    try:
        raw: BinaryIO = gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")  # type: ignore[assignment]
        if path.suffix == ".gz":  # a C-level buffer: GzipFile's own readline is slow Python
            raw = io.BufferedReader(raw, buffer_size=1 << 20)  # type: ignore[arg-type]
        return io.TextIOWrapper(raw, encoding="utf-8", newline="") if text else raw
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from None


def _first_undecodable_line(path: Path) -> int:
    """The 1-based number of the first line that is not valid UTF-8 (found again line by line, in bytes)."""
    with _open(path, text=False) as handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return line_number
    return 0


def _numbered_lines(path: Path, desc: str | None = None) -> Iterator[tuple[int, str]]:
    """Every line with its newline and 1-based number; a progress bar when ``desc`` is given and stderr is a
    terminal. A decoding error or a corrupt archive is an InputError naming the line."""
    line_number = 0
    with _open(path, text=True) as handle:
        lines = (
            tqdm(handle, desc=desc, unit=" lines", leave=False) if desc and sys.stderr.isatty() else handle
        )
        try:
            for line_number, line in enumerate(lines, start=1):
                yield line_number, line
        except UnicodeDecodeError as exc:
            line = _first_undecodable_line(path)
            raise InputError(f"not valid UTF-8 ({exc.reason})", path=path, line=line) from None
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"cannot read file: {exc}", path=path, line=line_number + 1) from None


def read_text(path: Path) -> str:
    """The whole file as text (for formats that are one JSON document)."""
    return "".join(line for _, line in _numbered_lines(path))


def iter_lines(path: Path, *, desc: str | None = None) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, line without its newline)`` for every non-blank line."""
    for line_number, line in _numbered_lines(path, desc):
        if line.strip():
            yield line_number, line.rstrip("\r\n")


def iter_csv_rows(
    path: Path, *, delimiter: str = "\t", desc: str | None = None
) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line number, fields)`` of a delimited file with csv quoting (a quoted field may hold the
    delimiter or ``""``); blank lines are skipped."""
    csv.field_size_limit(sys.maxsize)
    current = 0

    def lines() -> Iterator[str]:
        nonlocal current
        for number, line in _numbered_lines(path, desc):
            current = number
            yield line

    try:
        for row in csv.reader(lines(), delimiter=delimiter):
            if row:
                yield current, row
    except csv.Error as exc:
        raise InputError(f"malformed line ({exc})", path=path, line=current) from None


def iter_jsonl(path: Path, *, desc: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each line of a JSON-lines file."""
    for line_number, line in iter_lines(path, desc=desc):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"malformed JSON: {exc.msg} (column {exc.colno})", path=path, line=line_number
            ) from None
        if not isinstance(record, dict):
            raise InputError(
                f"expected a JSON object, found {type(record).__name__}", path=path, line=line_number
            )
        yield line_number, record


def iter_columns(
    path: Path, columns: Sequence[str], *, desc: str | None = None
) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line number, fields)`` of a tab-separated file with the given ``columns``.

    The last column takes the rest of the line (a passage may contain tabs); a line with fewer columns is an
    InputError naming the first missing one (usually a file with another delimiter).
    """
    for line_number, line in iter_lines(path, desc=desc):
        fields = line.split("\t", len(columns) - 1)
        if len(fields) < len(columns):
            raise InputError(
                f"expected {len(columns)} tab-separated columns ({', '.join(columns)}), found {len(fields)}; "
                "is the file tab-separated?",
                path=path,
                line=line_number,
                field=columns[len(fields)],
            )
        yield line_number, fields


def string_field(
    record: dict[str, Any], name: str, path: Path | str, line: int, *, required: bool = True
) -> str:
    """``record[name]`` as a string (integers are accepted and converted, as ids often are).

    A missing or null optional field is ``""``; a missing required field or another type is an InputError.
    """
    value = record.get(name, _MISSING)
    if value is _MISSING or (value is None and not required):
        if required:
            raise InputError("missing field", path=path, line=line, field=name)
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InputError(f"expected a string, found {type(value).__name__}", path=path, line=line, field=name)
    return str(value)


def parse_grade(value: Any, path: Path | str, line: int, field: str) -> int:
    """A relevance grade: an int or the text of one (``"2"``); anything else is an InputError."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise InputError(f"grade {value!r} is not an integer", path=path, line=line, field=field) from None


class CorpusSink(Protocol):
    """Where a :class:`CorpusBuilder` sends documents in batches instead of keeping them (the corpus store)."""

    def write(self, ids: list[str], titles: list[str], texts: list[str]) -> None: ...

    def finish(self, ids: list[str], fingerprint: str) -> Corpus: ...


class CorpusBuilder:
    """Collects documents in order, rejecting duplicate ids; counts documents with empty title and text.

    With a ``sink``, titles and texts go to it every ``batch_rows`` documents and only the ids stay in memory;
    :meth:`build` then returns the sink's corpus."""

    def __init__(
        self, path: Path | str, id_field: str, sink: CorpusSink | None = None, batch_rows: int = 8192
    ) -> None:
        self.path = path
        self.id_field = id_field
        self.sink = sink
        self.batch_rows = batch_rows
        self.ids: list[str] = []
        self.titles: list[str] = []  # all of them, or with a sink those not yet sent
        self.texts: list[str] = []
        self._first_line: dict[str, int] = {}
        self._empty = 0
        self._fingerprint = Fingerprint()

    def add(self, doc_id: str, title: str, text: str, line: int) -> None:
        first = self._first_line.setdefault(doc_id, line)
        if first != line:
            raise InputError(
                f"duplicate document id {doc_id!r} (first on line {first})",
                path=self.path,
                line=line,
                field=self.id_field,
            )
        if not text.strip() and not title.strip():
            self._empty += 1
        self.ids.append(doc_id)
        self.titles.append(title)
        self.texts.append(text)
        self._fingerprint.add(doc_id, title, text)
        if self.sink is not None and len(self.texts) >= self.batch_rows:
            self._send()

    def _send(self) -> None:
        assert self.sink is not None
        self.sink.write(self.ids[len(self.ids) - len(self.texts) :], self.titles, self.texts)
        self.titles, self.texts = [], []

    def build(self) -> Corpus:
        if not self.ids:
            raise InputError("the corpus has no documents", path=self.path)
        if self._empty:
            logger.warning("%s: %d documents have an empty title and text (kept)", self.path, self._empty)
        if self.sink is None:
            return Corpus(self.ids, self.titles, self.texts, known_fingerprint=self._fingerprint.hexdigest())
        if self.texts:
            self._send()
        return self.sink.finish(self.ids, self._fingerprint.hexdigest())


def collect_queries(rows: Iterable[tuple[int, str, str]], path: Path | str, id_field: str) -> dict[str, str]:
    """``{query id: text}`` from ``(line, id, text)`` rows; a duplicate id is an InputError."""
    queries: dict[str, str] = {}
    first_line: dict[str, int] = {}
    empty: list[int] = []
    for line, query_id, text in rows:
        if not text.strip():
            empty.append(line)
        first = first_line.setdefault(query_id, line)
        if first != line:
            raise InputError(
                f"duplicate query id {query_id!r} (first on line {first})",
                path=path,
                line=line,
                field=id_field,
            )
        queries[query_id] = text
    if empty:
        logger.warning(
            "%s: %d queries have an empty text (kept; first on line %d)", path, len(empty), empty[0]
        )
    return queries


def collect_qrels(rows: Iterable[tuple[int, str, str, int]], path: Path | str, doc_field: str) -> Qrels:
    """``{query id: {doc id: grade}}`` from ``(line, query id, doc id, grade)`` rows.

    A pair judged twice with the same grade is kept once; with different grades it is an InputError.
    """
    qrels: Qrels = {}
    negative: list[int] = []
    for line, query_id, doc_id, grade in rows:
        if grade < 0:
            negative.append(line)
        judged = qrels.setdefault(query_id, {})
        if judged.get(doc_id, grade) != grade:
            raise InputError(
                f"conflicting grades {judged[doc_id]} and {grade} for query {query_id!r}",
                path=path,
                line=line,
                field=doc_field,
            )
        judged[doc_id] = grade
    if negative:
        logger.warning(
            "%s: %d judgments have a negative grade (kept as given, non-relevant for binary metrics; "
            "first on line %d)",
            path,
            len(negative),
            negative[0],
        )
    return qrels


def drop_unknown(qrels: Qrels, corpus: Corpus, queries: dict[str, str], source: Path | str | None) -> Qrels:
    """Keep the judgments whose query and document exist; log one warning with the counts of the dropped."""
    known_docs = corpus.position
    kept: Qrels = {}
    unknown_queries = unknown_docs = 0
    for query_id, judged in qrels.items():
        if query_id not in queries:
            unknown_queries += len(judged)
            continue
        pairs = {doc_id: grade for doc_id, grade in judged.items() if doc_id in known_docs}
        unknown_docs += len(judged) - len(pairs)
        if pairs:
            kept[query_id] = pairs
    if unknown_queries or unknown_docs:
        logger.warning(
            "%s: dropped %d judgments naming unknown queries and %d naming unknown documents",
            source,
            unknown_queries,
            unknown_docs,
        )
    return kept


def choose_split(
    available: dict[str, T], split: str | None, where: Path | str, *, optional: bool = False
) -> tuple[str, T] | tuple[None, None]:
    """Pick ``available[split]`` (a qrels file); by default ``test``, or the only split present.

    With ``optional``, a dataset without any qrels and no ``split`` asked for gives ``(None, None)``."""
    if not available and split is None and optional:
        return None, None
    if not available:
        raise InputError("missing qrels: no qrels file found", path=where)
    if split is None:
        split = "test" if "test" in available or len(available) > 1 else next(iter(available))
    if split not in available:
        raise InputError(
            f"unknown split {split!r}; available splits: {', '.join(sorted(available))}",
            path=where,
            field="split",
        )
    return split, available[split]
