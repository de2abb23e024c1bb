"""Atomic file writes: a file appears under its final name complete, or not at all.

Every writer here goes through :func:`atomic_path`. The content goes to a temporary file in the target's own
directory (so the final rename never crosses a filesystem), named ``.<name>.<pid>.<8 hex>.tmp``: hidden,
recognisably the target's, and unique per process and per call, so concurrent writers of one target never
share a temporary file. When the content is complete the temporary file is renamed over the target with
:func:`os.replace` (atomic on POSIX and Windows); when writing raises, the temporary file is removed and the
target, if it existed, is left as it was. The target's directory must exist. The writes are atomic with
respect to a crash of the writing process, not durable across a power cut (no ``fsync``). A directory is written
the same way in spirit by :func:`replace_directory`: completed beside its target, then renamed into place.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s content to (for writers that need a file name, such as
    ``numpy.lib.format.open_memmap``); on a clean exit it replaces ``path``, on an exception it is removed
    and the exception propagates. The caller must have closed any handle on it before the block ends."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def replace_directory(staging: str | Path, target: str | Path) -> Path:
    """Put the complete directory ``staging`` (a sibling of ``target``) under ``target``'s name: an existing
    ``target`` is first moved aside to ``.<name>.replaced`` and removed afterwards, so a crash leaves the old or
    the new directory in place (or the old one beside it), never a half-written one. Returns ``target``."""
    staging, target = Path(staging), Path(target)
    retired = target.with_name(f".{target.name}.replaced")
    shutil.rmtree(retired, ignore_errors=True)
    if target.exists():
        target.rename(retired)
    staging.rename(target)
    shutil.rmtree(retired, ignore_errors=True)
    return target


@contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """``open`` for writing whose file only replaces ``path`` when the block ends without an exception.

    ``mode`` is ``"w"`` (text, UTF-8) or ``"wb"``."""
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    encoding = "utf-8" if mode == "w" else None
    with atomic_path(path) as tmp, open(tmp, mode, encoding=encoding) as handle:
        yield handle


def atomic_write_text(path: str | Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically."""
    with atomic_open(path) as handle:
        handle.write(text)


def atomic_write_json(
    path: str | Path, data: Any, *, indent: int | None = 2, sort_keys: bool = False
) -> None:
    """Replace ``path`` with ``json.dumps(data, indent=indent, sort_keys=sort_keys)`` and a final newline,
    atomically; ``data`` that JSON cannot encode raises before ``path`` is touched."""
    atomic_write_text(path, json.dumps(data, indent=indent, sort_keys=sort_keys) + "\n")
