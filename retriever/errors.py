"""User-facing errors: one line naming the file, line and field; the CLI prints them and exits with code 2."""

from __future__ import annotations

from pathlib import Path


class RetrieverError(Exception):
    """An error caused by the user's input or environment, shown as one line without a traceback."""


class InputError(RetrieverError):
    """Bad input data, located as ``path:line: field 'name': message``.

    Any of ``path``, ``line`` and ``field`` may be omitted when unknown; the message is always one line.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field
        self.reason = " ".join(str(message).split())
        location = ":".join(str(part) for part in (self.path, line) if part is not None)
        parts = [f"{location}:" if location else "", f"field '{field}':" if field else "", self.reason]
        super().__init__(" ".join(part for part in parts if part))


def first_line(exc: BaseException) -> str:
    """What a one-line error says about ``exc``: the first non-blank line of its message, stripped, or the
    exception's class name when the message is blank (third-party loaders raise multi-line messages, with
    hints and tracebacks after the first line, and sometimes none at all)."""
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
