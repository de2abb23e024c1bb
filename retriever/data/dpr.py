"""DPR / Natural Questions layout: a passages file plus one questions file per split.

- passages: ``psgs_w100.tsv[.gz]`` or ``passages.tsv[.gz]``, tab-separated ``id  text  title`` with that
  header and csv quoting (as DPR writes and reads it);
- questions: ``<anything>-<split>`` or ``<split>`` with extension ``.json`` (a list of objects, DPR's
  ``biencoder-nq-dev.json``), ``.jsonl`` (one object per line) or ``.csv``/``.tsv`` (DPR's ``nq-test.qa.csv``:
  ``question<TAB>['answer', ...]``, no header). Objects have ``question``, ``answers`` and optionally
  ``positive_ctxs`` (each with ``passage_id``) and ``id``.

Question ids are the ``id`` field when present, else the 0-based position in the file. Answers go to
``Dataset.answers``; ``positive_ctxs`` become qrels with grade 1.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from retriever.data.corpus_store import stored
from retriever.data.dataset import Corpus, Dataset
from retriever.data.parsing import (
    CorpusBuilder,
    choose_split,
    collect_qrels,
    collect_queries,
    drop_unknown,
    find_file,
    iter_csv_rows,
    iter_jsonl,
    read_text,
    require_file,
    string_field,
)
from retriever.errors import InputError

PASSAGE_FILES = ("psgs_w100.tsv", "passages.tsv")
PASSAGE_COLUMNS = ("id", "text", "title")
QUESTION_EXTENSIONS = ("json", "jsonl", "csv", "tsv")


def is_dpr(directory: Path) -> bool:
    """Whether ``directory`` holds a DPR passages file."""
    return find_file(directory, *PASSAGE_FILES) is not None


@stored("id")
def read_passages(path: Path, builder: CorpusBuilder) -> None:
    """Passages from DPR's ``id<TAB>text<TAB>title`` file (header line skipped when present); decorated:
    ``read_passages(path) -> Corpus`` through the corpus store."""
    for line, row in iter_csv_rows(path, desc="passages"):
        if line == 1 and row[0].strip().lower() == "id":
            continue
        if len(row) != len(PASSAGE_COLUMNS):
            raise InputError(
                f"expected 3 tab-separated columns (id, text, title), found {len(row)}",
                path=path,
                line=line,
                field=PASSAGE_COLUMNS[min(len(row), 2)],
            )
        builder.add(row[0].strip(), row[2], row[1], line)


def question_files(directory: Path) -> dict[str, Path]:
    """``{split: path}`` of the questions files in ``directory`` (passages files excluded)."""
    files: dict[str, Path] = {}
    for path in sorted(directory.iterdir()):
        stem, _, extension = path.name.removesuffix(".gz").rpartition(".")
        if (
            extension not in QUESTION_EXTENSIONS
            or not path.is_file()
            or f"{stem}.{extension}" in PASSAGE_FILES
        ):
            continue
        split = re.split(r"[-_.]", stem.removesuffix(".qa"))[-1]
        if split in files:
            raise InputError(
                f"two questions files for split {split!r}: {files[split].name} and {path.name}; keep one",
                path=directory,
            )
        files[split] = path
    return files


def _question_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line or 1-based position, record)`` for each question, whatever the file format."""
    name = path.name.removesuffix(".gz")
    if name.endswith(".jsonl"):
        yield from iter_jsonl(path)
    elif name.endswith(".json"):
        try:
            records = json.loads(read_text(path))
        except json.JSONDecodeError as exc:
            raise InputError(f"malformed JSON: {exc.msg}", path=path, line=exc.lineno) from None
        if not isinstance(records, list):
            raise InputError("expected a JSON list of question objects", path=path, line=1)
        for position, record in enumerate(records, start=1):
            if not isinstance(record, dict):
                raise InputError(f"question {position} is not a JSON object", path=path)
            yield position, record
    else:
        for line, row in iter_csv_rows(path):
            if len(row) < 2:
                raise InputError(
                    "expected 2 tab-separated columns (question, answers)",
                    path=path,
                    line=line,
                    field="answers",
                )
            yield line, {"question": row[0], "answers": _answer_list(row[1], path, line)}


def _answer_list(text: str, path: Path, line: int) -> Any:
    """DPR's qa.csv answers column: a Python list literal such as ``['Paris', 'paris']``."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise InputError(
            "answers must be a list literal like ['a', 'b']", path=path, line=line, field="answers"
        ) from None


def _answers(record: dict[str, Any], path: Path, line: int) -> list[str]:
    answers = record.get("answers")
    if not isinstance(answers, list) or not all(isinstance(answer, str) for answer in answers):
        raise InputError("expected a list of answer strings", path=path, line=line, field="answers")
    return answers


def _positive_ids(record: dict[str, Any], path: Path, line: int) -> list[str]:
    contexts = record.get("positive_ctxs") or []
    if not isinstance(contexts, list) or not all(isinstance(context, dict) for context in contexts):
        raise InputError("expected a list of objects", path=path, line=line, field="positive_ctxs")
    key = "positive_ctxs.passage_id"  # named in full in errors
    named = ({key: context["passage_id"]} if "passage_id" in context else {} for context in contexts)
    return [string_field(context, key, path, line) for context in named]


def read_dpr(directory: str | Path, split: str | None = None, corpus: Corpus | None = None) -> Dataset:
    """Read a DPR/NQ directory; ``split`` defaults to ``test`` or to the only questions file present; a
    ``corpus`` already read from this directory is used instead of reading it again."""
    directory = Path(directory)
    split, questions_path = choose_split(question_files(directory), split, directory)
    if corpus is None:
        corpus = read_passages(require_file(directory, *PASSAGE_FILES))
    texts: list[tuple[int, str, str]] = []
    answers: dict[str, list[str]] = {}
    judgments: list[tuple[int, str, str, int]] = []
    for position, (line, record) in enumerate(_question_records(questions_path)):
        query_id = string_field(record, "id", questions_path, line) if "id" in record else str(position)
        texts.append((line, query_id, string_field(record, "question", questions_path, line)))
        answers[query_id] = _answers(record, questions_path, line)
        judgments.extend((line, query_id, pid, 1) for pid in _positive_ids(record, questions_path, line))
    queries = collect_queries(texts, questions_path, "id")
    if not queries:
        raise InputError("no questions", path=questions_path)
    qrels = drop_unknown(
        collect_qrels(judgments, questions_path, "positive_ctxs"), corpus, queries, questions_path
    )
    return Dataset(
        name=directory.name, corpus=corpus, queries=queries, qrels=qrels, answers=answers, split=split
    )
