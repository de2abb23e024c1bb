"""The BEIR layout: ``corpus.jsonl[.gz]``, ``queries.jsonl[.gz]`` and ``qrels/<split>.tsv``.

- corpus lines: ``{"_id": str, "title": str (optional), "text": str}``;
- query lines: ``{"_id": str, "text": str}``;
- qrels: tab-separated ``query-id  corpus-id  score`` with that header line, integer scores.

The record-level functions (:func:`corpus_from_records`, :func:`queries_from_records`,
:func:`qrels_from_rows`) are shared with the Hugging Face loader,
whose BEIR/MTEB datasets have the same columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from retriever.data.corpus_store import stored
from retriever.data.dataset import Corpus, Dataset, Qrels
from retriever.data.parsing import (
    CorpusBuilder,
    choose_split,
    collect_qrels,
    collect_queries,
    drop_unknown,
    find_file,
    iter_columns,
    iter_jsonl,
    parse_grade,
    require_file,
    string_field,
)
from retriever.errors import InputError

QRELS_COLUMNS = ("query-id", "corpus-id", "score")


def is_beir(directory: Path) -> bool:
    """Whether ``directory`` holds a BEIR corpus file."""
    return find_file(directory, "corpus.jsonl") is not None


def add_records(
    builder: CorpusBuilder, records: Iterable[tuple[int, dict[str, Any]]], source: Path | str
) -> None:
    """Add ``(line, {"_id", "title", "text"})`` records to ``builder``; ``title`` may be absent."""
    for line, record in records:
        builder.add(
            string_field(record, "_id", source, line),
            string_field(record, "title", source, line, required=False),
            string_field(record, "text", source, line),
            line,
        )


def corpus_from_records(records: Iterable[tuple[int, dict[str, Any]]], source: Path | str) -> Corpus:
    """A corpus (in memory) from ``(line, {"_id", "title", "text"})`` records; ``title`` may be absent."""
    builder = CorpusBuilder(source, "_id")
    add_records(builder, records, source)
    return builder.build()


def queries_from_records(records: Iterable[tuple[int, dict[str, Any]]], source: Path | str) -> dict[str, str]:
    """``{query id: text}`` from ``(line, {"_id", "text"})`` records."""
    rows = (
        (line, string_field(record, "_id", source, line), string_field(record, "text", source, line))
        for line, record in records
    )
    return collect_queries(rows, source, "_id")


def qrels_from_rows(rows: Iterable[tuple[int, dict[str, Any]]], source: Path | str) -> Qrels:
    """Qrels from ``(line, {"query-id", "corpus-id", "score"})`` rows."""
    judgments = (
        (
            line,
            string_field(row, "query-id", source, line),
            string_field(row, "corpus-id", source, line),
            parse_grade(row.get("score"), source, line, "score"),
        )
        for line, row in rows
    )
    return collect_qrels(judgments, source, "corpus-id")


def _qrels_tsv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of a BEIR qrels file, skipping the ``query-id corpus-id score`` header on line 1."""
    for line, fields in iter_columns(path, QRELS_COLUMNS):
        if line == 1 and fields[0].strip().lower() == "query-id":
            continue
        yield line, dict(zip(QRELS_COLUMNS, (field.strip() for field in fields), strict=True))


def qrels_files(directory: Path) -> dict[str, Path]:
    """``{split: path}`` of ``directory/qrels/<split>.tsv``."""
    qrels_dir = directory / "qrels"
    return (
        {path.name.split(".")[0]: path for path in sorted(qrels_dir.glob("*.tsv*"))}
        if qrels_dir.is_dir()
        else {}
    )


@stored("_id")
def read_corpus(path: Path, builder: CorpusBuilder) -> None:
    """The documents of a BEIR ``corpus.jsonl[.gz]`` (decorated: ``read_corpus(path) -> Corpus`` through the
    corpus store)."""
    add_records(builder, iter_jsonl(path, desc="corpus"), path)


def read_beir(directory: str | Path, split: str | None = None, corpus: Corpus | None = None) -> Dataset:
    """Read a BEIR dataset directory; ``split`` defaults to ``test`` or to the only qrels file present; a
    ``corpus`` already read from this directory is used instead of reading it again.

    Without any qrels file and no ``split`` asked for, the qrels are empty (a corpus to index or mine)."""
    directory = Path(directory)
    split, qrels_path = choose_split(qrels_files(directory), split, directory / "qrels", optional=True)
    corpus_path = require_file(directory, "corpus.jsonl")
    queries_path = require_file(directory, "queries.jsonl")
    corpus = read_corpus(corpus_path) if corpus is None else corpus
    queries = queries_from_records(iter_jsonl(queries_path), queries_path)
    if not queries:
        raise InputError("no queries", path=queries_path)
    judged = qrels_from_rows(_qrels_tsv_rows(qrels_path), qrels_path) if qrels_path else {}
    qrels = drop_unknown(judged, corpus, queries, qrels_path)
    return Dataset(name=directory.name, corpus=corpus, queries=queries, qrels=qrels, split=split)
