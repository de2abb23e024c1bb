"""SQLite connections for the mining caches: WAL journal (a reader never blocks the writer; a crash loses at
most the transaction in flight), ``synchronous=NORMAL``, parent directory created."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating) the database at ``path`` in WAL mode, autocommit off (callers commit per batch)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(str(path), timeout=30.0)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection
