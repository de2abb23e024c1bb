"""The training file: output of ``retriever mine``, input of ``retriever train``.

One JSON object per query per line (readable by ``datasets.load_dataset("json", data_files=...)``)::

    {"query_id": str, "query": str,
     "positives": [{"id": str, "text": str, "source": "qrels|llm|...",
                    "grade": int|null, "teacher_score": float|null}],
     "negatives": [{"id": str, "text": str, "source": "bm25|dense|...",
                    "retriever_score": float|null, "teacher_score": float|null}]}

Every query has at least one positive; a passage is never both a positive and a negative of the same query.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from retriever.data.parsing import iter_jsonl
from retriever.errors import InputError
from retriever.files import atomic_open


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Positive(_Record):
    """A relevant passage; ``source`` says who judged it (``qrels`` for humans, ``llm`` for a judge),
    ``grade`` the relevance grade they gave (when the file's maker knew it) and ``teacher_score`` the
    teacher's score of the pair (``retriever mine``), as for negatives.

    Files written before these two fields carry ``score`` instead, which meant the grade in ``convert``
    files and the teacher score in ``mine`` files; it is read and dropped (training never used it).
    """

    id: str
    text: str
    source: str = "qrels"
    grade: int | None = None
    teacher_score: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_legacy_score(cls, data: object) -> object:
        if isinstance(data, dict) and "score" in data:
            data = {key: value for key, value in data.items() if key != "score"}
        return data

    @field_validator("text")
    @classmethod
    def _text_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("passage text is empty")
        return value


class Negative(_Record):
    """A hard negative with the first-stage (retriever) and teacher (cross-encoder) scores, when known."""

    id: str
    text: str
    source: str = "bm25"
    retriever_score: float | None = None
    teacher_score: float | None = None


class TrainingExample(_Record):
    """One query with its positive set and hard negatives."""

    query_id: str
    query: str
    positives: list[Positive] = Field(min_length=1)
    negatives: list[Negative] = Field(default_factory=list)

    @model_validator(mode="after")
    def _disjoint(self) -> TrainingExample:
        positive_ids = {p.id for p in self.positives}
        clash = [n.id for n in self.negatives if n.id in positive_ids]
        if clash:
            raise ValueError(f"passage {clash[0]!r} is both a positive and a negative")
        return self


def _one_line(error: ValidationError) -> tuple[str, str]:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    message = first["msg"]
    if first["type"] == "too_short" and field == "positives":
        message = "query has no positives"
    return field, message


def iter_training_file(path: str | Path) -> Iterator[TrainingExample]:
    """Yield validated examples; a bad line raises :class:`InputError` naming file, line and field."""
    path = Path(path)
    if not path.is_file():
        raise InputError("training file not found", path=path)
    seen: dict[str, int] = {}
    for line_number, raw in iter_jsonl(path):  # bad UTF-8 and malformed JSON name their line
        try:
            example = TrainingExample.model_validate(raw)
        except ValidationError as exc:
            field, message = _one_line(exc)
            raise InputError(message, path=path, line=line_number, field=field) from None
        if example.query_id in seen:
            raise InputError(
                f"duplicate query id {example.query_id!r} (first on line {seen[example.query_id]})",
                path=path,
                line=line_number,
                field="query_id",
            )
        seen[example.query_id] = line_number
        yield example


def read_training_file(path: str | Path) -> list[TrainingExample]:
    """All examples of a training file; an empty file is an error."""
    examples = list(iter_training_file(path))
    if not examples:
        raise InputError("training file has no examples", path=path)
    return examples


class TrainingFileWriter:
    """Appends examples as JSON lines to an atomic write of ``path`` (see :func:`open_training_file`)."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle
        self.count = 0

    def write(self, example: TrainingExample) -> None:
        self._handle.write(example.model_dump_json() + "\n")
        self.count += 1


@contextmanager
def open_training_file(path: str | Path) -> Iterator[TrainingFileWriter]:
    """A writer whose file replaces ``path`` only when the block ends without an exception (an error
    leaves any previous file in place: :mod:`retriever.files`); creates the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as handle:
        yield TrainingFileWriter(handle)


def write_training_file(path: str | Path, examples: Iterable[TrainingExample]) -> int:
    """Write examples as JSON lines, atomically (as :func:`open_training_file`); returns the count."""
    with open_training_file(path) as writer:
        for example in examples:
            writer.write(example)
    return writer.count
