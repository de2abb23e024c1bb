"""Writers of small dataset directories (BEIR, MS MARCO, DPR) for the reader tests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

CORPUS = [
    {"_id": "d1", "title": "Aspirin", "text": "Aspirin reduces fever."},
    {"_id": "d2", "title": "", "text": "Ibuprofen is an anti-inflammatory drug."},
    {"_id": "d3", "title": "Vitamin C", "text": "Vitamin C does not cure colds."},
]
QUERIES = [{"_id": "q1", "text": "what reduces fever"}, {"_id": "q2", "text": "does vitamin c cure colds"}]
QRELS = {
    "test": ["query-id\tcorpus-id\tscore", "q1\td1\t1", "q2\td3\t2"],
    "train": ["query-id\tcorpus-id\tscore", "q1\td2\t1"],
}


def write_lines(path: Path, lines: list[str]) -> Path:
    """Write lines (gzip-compressed when the name ends in ``.gz``), creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(f"{line}\n" for line in lines).encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def jsonl(records: list[dict]) -> list[str]:
    return [json.dumps(record) for record in records]


def write_beir(
    root: Path,
    corpus: list[str] | None = None,
    queries: list[str] | None = None,
    qrels: dict[str, list[str]] | None = None,
    corpus_name: str = "corpus.jsonl",
) -> Path:
    """A BEIR directory; each argument replaces the default file's lines."""
    write_lines(root / corpus_name, jsonl(CORPUS) if corpus is None else corpus)
    write_lines(root / "queries.jsonl", jsonl(QUERIES) if queries is None else queries)
    for split, lines in (QRELS if qrels is None else qrels).items():
        write_lines(root / "qrels" / f"{split}.tsv", lines)
    return root


def write_msmarco(
    root: Path,
    collection: list[str] | None = None,
    queries: list[str] | None = None,
    qrels: list[str] | None = None,
) -> Path:
    """An MS MARCO directory: gzipped collection, queries.tsv and a TREC qrels.tsv."""
    write_lines(
        root / "collection.tsv.gz",
        ["7\tThe capital of France is Paris.", "8\tBerlin is in Germany.", "9\tMadrid\tis in Spain."]
        if collection is None
        else collection,
    )
    write_lines(
        root / "queries.tsv",
        ["100\tcapital of france", "200\twhere is madrid"] if queries is None else queries,
    )
    write_lines(root / "qrels.tsv", ["100 0 7 3", "100 0 8 0", "200\t0\t9\t2"] if qrels is None else qrels)
    return root


PASSAGES = [
    "id\ttext\ttitle",
    '1\t"Aaron ( or ; ""Ahärôn"") is a prophet, high priest, and the brother of Moses."\tAaron',
    "2\tParis is the capital and most populous city of France.\tParis",
    "3\tThe Eiffel Tower was completed in 1889.\tEiffel Tower",
]
QUESTIONS = [
    {
        "question": "who was the brother of moses",
        "answers": ["Aaron"],
        "positive_ctxs": [{"passage_id": "1", "title": "Aaron", "text": "..."}],
    },
    {
        "question": "when was the eiffel tower completed",
        "answers": ["1889"],
        "positive_ctxs": [{"passage_id": "3", "title": "Eiffel Tower", "text": "..."}],
    },
]


def write_dpr(root: Path, questions: list[dict] | None = None, name: str = "biencoder-nq-test.json") -> Path:
    """A DPR directory: ``psgs_w100.tsv`` and one JSON list of questions."""
    write_lines(root / "psgs_w100.tsv", PASSAGES)
    (root / name).write_text(json.dumps(QUESTIONS if questions is None else questions), encoding="utf-8")
    return root
