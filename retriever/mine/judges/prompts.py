"""Versioned judge prompts and their strict parsers.

A prompt's ``version`` is part of every cache key: editing a prompt's wording must bump its version, so no
judgement made under one wording is reused under another.

* pointwise (``pointwise-v1``): one passage, answer ``{"grade": G}`` with G an integer in 0..3
  (0 irrelevant, 1 related, 2 relevant, 3 perfectly relevant).
* graded (``graded-v1``): one passage, the same ``{"grade": G}`` answer, with the instructions TREC gives
  its assessors, in the style of UMBRELA (Upadhyay et al., 2024): first what the query asks for, then how
  trustworthy and on-topic the passage is, then the grade 0 (nothing to do with the query), 1 (related but
  does not answer), 2 (has some answer, unclear or mixed with other information), 3 (dedicated to the query,
  contains the exact answer).
* listwise (``listwise-v1``): numbered passages, answer ``{"relevant": [i, ...]}`` with 1-based numbers
  of the relevant passages (possibly empty); a selected passage is graded :data:`LISTWISE_SELECTED` (3),
  the others 0.

Parsing is strict: after stripping whitespace and one optional ```` ``` ```` / ```` ```json ```` fence, the
text must be exactly one JSON object with exactly the expected key and valid values; anything else raises
:class:`ParseError` (counted and retried by the caller, never guessed).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

LISTWISE_SELECTED = 3
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)

SYSTEM = "You are a careful relevance assessor for a search engine. Answer with JSON only."

POINTWISE = """Grade how well the passage answers or supports the query.
0 = irrelevant, 1 = related but does not answer, 2 = relevant, 3 = perfectly relevant.

Query: {query}

Passage: {passage}

Answer with exactly {{"grade": G}} where G is 0, 1, 2 or 3."""

GRADED = """Given a query and a passage, grade the passage on this scale:
3 = the passage is dedicated to the query and contains the exact answer.
2 = the passage has some answer for the query, but the answer may be a bit unclear, or hidden amongst
extraneous information.
1 = the passage seems related to the query but does not answer it.
0 = the passage has nothing to do with the query.

Consider what the query asks for, then how well the passage matches that intent and how trustworthy it is.

Query: {query}

Passage: {passage}

Answer with exactly {{"grade": G}} where G is 0, 1, 2 or 3."""

LISTWISE = """Select the passages that are relevant to the query (they answer or support it).

Query: {query}

{passages}

Answer with exactly {{"relevant": [numbers]}} listing the numbers of the relevant passages ([] if none)."""


class ParseError(ValueError):
    """The model's answer does not follow the required format."""


GRADE_SCHEMA = {
    "type": "object",
    "properties": {"grade": {"type": "integer", "enum": [0, 1, 2, 3]}},
    "required": ["grade"],
    "additionalProperties": False,
}
SELECTION_SCHEMA = {
    "type": "object",
    "properties": {"relevant": {"type": "array", "items": {"type": "integer", "minimum": 1}}},
    "required": ["relevant"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Prompt:
    """A prompt family: its cache version, whether one call judges one passage or a window of them, and the
    JSON schema of its answer (sent as ``response_format`` when the judge asks for structured output)."""

    name: str
    version: str
    listwise: bool

    @property
    def schema(self) -> dict:
        return SELECTION_SCHEMA if self.listwise else GRADE_SCHEMA


PROMPTS = {
    "pointwise": Prompt("pointwise", "pointwise-v1", listwise=False),
    "graded": Prompt("graded", "graded-v1", listwise=False),
    "listwise": Prompt("listwise", "listwise-v1", listwise=True),
}


def messages(prompt: Prompt, query: str, passages: list[str]) -> list[dict[str, str]]:
    """Chat messages asking ``prompt`` about ``passages`` (exactly one for pointwise)."""
    if prompt.listwise:
        numbered = "\n\n".join(f"[{i}] {text}" for i, text in enumerate(passages, start=1))
        user = LISTWISE.format(query=query, passages=numbered)
    else:
        if len(passages) != 1:
            raise ValueError("a pointwise prompt judges exactly one passage")
        template = GRADED if prompt.name == "graded" else POINTWISE
        user = template.format(query=query, passage=passages[0])
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def _json_object(text: str, key: str) -> object:
    text = text.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"not JSON: {exc.msg}") from None
    if not isinstance(value, dict) or set(value) != {key}:
        raise ParseError(f"expected an object with the single key {key!r}")
    return value[key]


def parse(prompt: Prompt, text: str, n_passages: int) -> list[int]:
    """Grades (0-3), one per passage, from the model's answer; :class:`ParseError` when malformed."""
    if not prompt.listwise:
        grade = _json_object(text, "grade")
        if isinstance(grade, bool) or not isinstance(grade, int) or not 0 <= grade <= 3:
            raise ParseError(f"grade must be an integer 0-3, got {grade!r}")
        return [grade]
    chosen = _json_object(text, "relevant")
    if not isinstance(chosen, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in chosen):
        raise ParseError("relevant must be a list of integers")
    if any(not 1 <= i <= n_passages for i in chosen) or len(set(chosen)) != len(chosen):
        raise ParseError(f"relevant must list distinct numbers in 1..{n_passages}")
    return [LISTWISE_SELECTED if i in chosen else 0 for i in range(1, n_passages + 1)]
