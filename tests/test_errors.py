"""first_line: the one line a user sees about a third-party exception."""

from __future__ import annotations

import pytest

from retriever.errors import first_line


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            OSError("config.json not found\n\nTraceback (most recent call last):\n  ..."),
            "config.json not found",
        ),
        (ValueError("\n   \n  bad checkpoint  \nhint: retry"), "bad checkpoint"),
        (KeyError(), "KeyError"),
        (RuntimeError(" \n\t\n"), "RuntimeError"),
    ],
)
def test_first_non_blank_line_or_the_class_name(exc, expected):
    assert first_line(exc) == expected


def test_hub_repo_id_errors_are_one_line():
    from retriever.errors import InputError
    from retriever.hub import check_repo_id

    with pytest.raises(InputError) as info:
        check_repo_id("bad--name//x")
    assert "\n" not in str(info.value) and str(info.value)
