"""Output paths are checked before any work: a run that would fail to write its result fails first.

:func:`require_output_dir` and :func:`require_output_file` raise :class:`~retriever.errors.InputError` (one
line, naming the path and the option) when the path cannot be written: a folder that is a file, a file that
is a folder, a parent that is a file, or a nearest existing ancestor that is not writable. Nothing is created.
"""

from __future__ import annotations

import os
from pathlib import Path

from retriever.errors import InputError


def _writable_ancestor(path: Path, field: str) -> None:
    """The nearest existing ancestor of ``path`` must be a writable directory."""
    for ancestor in path.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise InputError(
                    f"cannot write here: {ancestor} is a file, not a folder", path=path, field=field
                )
            if not os.access(ancestor, os.W_OK | os.X_OK):
                raise InputError(f"cannot write here: {ancestor} is not writable", path=path, field=field)
            return


def require_output_dir(path: str | Path, field: str = "output") -> Path:
    """``path`` is an existing directory or can be created as one; returns it as a Path."""
    path = Path(path).expanduser()
    if path.exists():
        if not path.is_dir():
            raise InputError("output must be a folder, but a file is there", path=path, field=field)
        if not os.access(path, os.W_OK | os.X_OK):
            raise InputError("output folder is not writable", path=path, field=field)
        return path
    _writable_ancestor(path, field)
    return path


def require_output_file(path: str | Path, field: str = "output") -> Path:
    """``path`` is a writable file, or absent in a folder that exists or can be created; returns it."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise InputError("output must be a file, but a folder is there", path=path, field=field)
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError("output file is not writable", path=path, field=field)
    _writable_ancestor(path, field)
    return path
