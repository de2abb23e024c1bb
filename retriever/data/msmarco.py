"""The MS MARCO native layout: ``collection.tsv[.gz]``, ``queries[.<split>].tsv``, ``qrels[.<split>].tsv``.

- collection: ``pid<TAB>passage`` (no title, no header);
- queries: ``qid<TAB>query``; ``queries.<split>.tsv`` is used when present, else ``queries.tsv``;
- qrels: TREC format ``qid 0 pid grade`` separated by spaces or tabs. ``qrels.<split>.tsv`` names a split;
  a plain ``qrels.tsv`` is the ``test`` split (as for TREC DL), unless ``qrels.test.tsv`` also exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from retriever.data.corpus_store import stored
from retriever.data.dataset import Corpus, Dataset
from retriever.data.parsing import (
    CorpusBuilder,
    choose_split,
    collect_qrels,
    collect_queries,
    drop_unknown,
    find_file,
    iter_columns,
    iter_lines,
    parse_grade,
    require_file,
)
from retriever.errors import InputError

TREC_QRELS_FIELDS = ("qid", "iteration", "docid", "grade")
_SPLIT_QRELS = re.compile(r"^qrels\.(?P<split>[^.]+)\.tsv(\.gz)?$")


def is_msmarco(directory: Path) -> bool:
    """Whether ``directory`` holds an MS MARCO collection file."""
    return find_file(directory, "collection.tsv") is not None


@stored("pid")
def read_collection(path: Path, builder: CorpusBuilder) -> None:
    """Passages from ``pid<TAB>passage`` lines (titles are empty); decorated: ``read_collection(path) ->
    Corpus`` through the corpus store."""
    for line, (pid, passage) in iter_columns(path, ("pid", "passage"), desc="collection"):
        builder.add(pid.strip(), "", passage, line)


def read_queries(path: Path) -> dict[str, str]:
    """``{qid: query}`` from ``qid<TAB>query`` lines."""
    rows = ((line, qid.strip(), text) for line, (qid, text) in iter_columns(path, ("qid", "query")))
    queries = collect_queries(rows, path, "qid")
    if not queries:
        raise InputError("no queries", path=path)
    return queries


def _trec_qrels_rows(path: Path) -> Iterator[tuple[int, str, str, int]]:
    for line, text in iter_lines(path):
        fields = text.split()
        if len(fields) != len(TREC_QRELS_FIELDS):
            missing = TREC_QRELS_FIELDS[min(len(fields), len(TREC_QRELS_FIELDS) - 1)]
            raise InputError(
                f"expected 4 fields 'qid 0 docid grade' separated by spaces or tabs, found {len(fields)}",
                path=path,
                line=line,
                field=missing,
            )
        qid, _, docid, grade = fields
        yield line, qid, docid, parse_grade(grade, path, line, "grade")


def read_trec_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Qrels from a TREC qrels file (``qid 0 docid grade`` per line)."""
    return collect_qrels(_trec_qrels_rows(path), path, "docid")


def qrels_files(directory: Path) -> dict[str, Path]:
    """``{split: path}``: ``qrels.<split>.tsv`` files, and a plain ``qrels.tsv`` as ``test`` if not taken."""
    files: dict[str, Path] = {}
    for path in sorted(directory.glob("qrels.*")):
        match = _SPLIT_QRELS.match(path.name)
        if match:
            files[match["split"]] = path
    plain = find_file(directory, "qrels.tsv")
    if plain is not None:
        files.setdefault("test", plain)
    return files


def read_msmarco(directory: str | Path, split: str | None = None, corpus: Corpus | None = None) -> Dataset:
    """Read an MS MARCO style directory; ``split`` defaults to ``test`` or to the only qrels file present; a
    ``corpus`` already read from this directory is used instead of reading it again.

    Without any qrels file and no ``split`` asked for, the qrels are empty (a corpus to index or mine)."""
    directory = Path(directory)
    split, qrels_path = choose_split(qrels_files(directory), split, directory, optional=True)
    if corpus is None:
        corpus = read_collection(require_file(directory, "collection.tsv"))
    queries = read_queries(require_file(directory, *[f"queries.{split}.tsv"] * bool(split), "queries.tsv"))
    judged = read_trec_qrels(qrels_path) if qrels_path else {}
    qrels = drop_unknown(judged, corpus, queries, qrels_path)
    return Dataset(name=directory.name, corpus=corpus, queries=queries, qrels=qrels, split=split)
