"""The on-disk judgement cache: every judgement is committed here BEFORE it is used.

Key: (judge, model, prompt version, query id, passage id). A row is either ``ok`` with a grade (0-3) or
``failed`` (the retry budget was spent: no grade, and never guessed). A rerun, or a run resumed after a crash,
reads the ``ok`` rows instead of calling the model again, so no judgement is paid for twice; ``failed`` rows
record what went wrong and are asked again (a failure is not a verdict).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from retriever.mine.sqlite import connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS judgements (
    judge TEXT NOT NULL, model TEXT NOT NULL, prompt_version TEXT NOT NULL,
    query_id TEXT NOT NULL, passage_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    grade INTEGER CHECK (grade BETWEEN 0 AND 3),
    attempts INTEGER NOT NULL, answer TEXT, error TEXT, created REAL NOT NULL,
    PRIMARY KEY (judge, model, prompt_version, query_id, passage_id)
)
"""


@dataclass(frozen=True)
class Judgement:
    """One (query, passage) verdict: a grade when ``status == 'ok'``, an error when ``'failed'``."""

    query_id: str
    passage_id: str
    status: str
    grade: int | None
    attempts: int
    answer: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class JudgeKey:
    """Which judge produced a verdict: backend kind, model name and prompt version."""

    judge: str
    model: str
    prompt_version: str


class JudgementCache:
    """SQLite store of judgements (WAL); :meth:`put` commits before returning."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = connect(self.path)
        self._db.execute(_SCHEMA)
        self._db.commit()

    def load(self, key: JudgeKey) -> dict[tuple[str, str], Judgement]:
        """Every stored judgement of ``key``, by (query id, passage id)."""
        rows = self._db.execute(
            "SELECT query_id, passage_id, status, grade, attempts, answer, error FROM judgements "
            "WHERE judge = ? AND model = ? AND prompt_version = ?",
            (key.judge, key.model, key.prompt_version),
        )
        return {(row[0], row[1]): Judgement(*row) for row in rows}

    def put(self, key: JudgeKey, judgements: Iterable[Judgement]) -> None:
        """Insert (or replace) judgements and commit."""
        now = time.time()
        self._db.executemany(
            "INSERT OR REPLACE INTO judgements VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    key.judge,
                    key.model,
                    key.prompt_version,
                    j.query_id,
                    j.passage_id,
                    j.status,
                    j.grade,
                    j.attempts,
                    j.answer,
                    j.error,
                    now,
                )
                for j in judgements
            ],
        )
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> JudgementCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
