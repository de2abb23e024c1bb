"""Running a judge over (query, passage) pairs: cache first, retries with backoff, strict parsing, counters.

A backend (:mod:`.openai` or :mod:`.hf`) only turns chat messages into a :class:`Completion`, raising
:class:`RetryableError` for transient faults (timeouts, 429, 5xx, malformed bodies, empty ``choices``) and
:class:`retriever.errors.RetrieverError` for faults no retry can fix (a bad key, an unknown model).

One *call* judges one passage (pointwise) or a window of passages (listwise). A call is tried at most
``max_attempts`` times; an unparseable answer counts as a failed attempt. The delay before retry ``a``
(1-based) is the server's ``Retry-After`` when given, else ``min(max_backoff_s, backoff_s * 2**(a-1))`` plus a
uniform jitter in ``[0, backoff_s)``. When the budget is spent, every passage of the call is recorded as
``failed``. Each call's verdicts are committed to the :class:`JudgementCache` before the next call starts in
its slot. A cached ``ok`` verdict is never requested again; a cached ``failed`` one is not a verdict, so a
rerun asks for it again (with the same bounded retries) and replaces it when the call succeeds.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from retriever.mine.config import JudgeConfig
from retriever.mine.judges.cache import JudgeKey, Judgement, JudgementCache
from retriever.mine.judges.prompts import PROMPTS, ParseError, messages, parse


@dataclass(frozen=True)
class Completion:
    """A model's answer text and the token usage it reported (0 when it did not)."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class RetryableError(Exception):
    """A transient fault; ``reason`` names it in the counters, ``retry_after`` is the server's hint (s)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Backend(Protocol):
    """Turns chat messages into one completion; ``attempt`` is 0 for the first try of a call. Used as an
    async context manager around a run (opening and closing its connections inside the event loop)."""

    kind: str
    model: str

    async def __aenter__(self) -> Backend: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def complete(self, messages: list[dict[str, str]], attempt: int) -> Completion: ...


@dataclass
class JudgeCounters:
    """What judging cost: model calls (attempts), cache hits and fresh verdicts (passages), retries,
    failed passages, fault counts by reason, reported tokens, and summed call latency."""

    calls: int = 0
    cache_hits: int = 0
    judged: int = 0
    retries: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    faults: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        data = {k: v for k, v in self.__dict__.items() if k != "faults"}
        data["latency_s"] = round(self.latency_s, 3)
        data["faults"] = dict(sorted(self.faults.items()))
        return data


@dataclass(frozen=True)
class Request:
    """Passages to judge for one query (ids and texts in the order they are shown to the model)."""

    query_id: str
    query: str
    passages: Sequence[tuple[str, str]]


def _delay(config: JudgeConfig, attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(retry_after, config.max_backoff_s)
    return min(config.max_backoff_s, config.backoff_s * 2 ** (attempt - 1)) + random.uniform(
        0, config.backoff_s
    )


async def _judge_call(
    backend: Backend, config: JudgeConfig, request: Request, counters: JudgeCounters
) -> list[Judgement]:
    """One call with retries; verdicts for every passage of ``request``."""
    prompt = PROMPTS[config.prompt]
    chat = messages(prompt, request.query, [text for _, text in request.passages])
    error, answer = "", None
    for attempt in range(config.max_attempts):
        if attempt:
            counters.retries += 1
        counters.calls += 1
        started = time.perf_counter()
        try:
            completion = await backend.complete(chat, attempt)
        except RetryableError as exc:
            counters.latency_s += time.perf_counter() - started
            counters.faults[exc.reason] += 1
            error = exc.reason
            if attempt + 1 < config.max_attempts:
                await asyncio.sleep(_delay(config, attempt + 1, exc.retry_after))
            continue
        counters.latency_s += time.perf_counter() - started
        counters.prompt_tokens += completion.prompt_tokens
        counters.completion_tokens += completion.completion_tokens
        answer = completion.text
        try:
            grades = parse(prompt, completion.text, len(request.passages))
        except ParseError as exc:
            counters.faults["unparseable"] += 1
            error = f"unparseable: {exc}"
            continue
        counters.judged += len(grades)
        return [
            Judgement(request.query_id, pid, "ok", grade, attempt + 1, answer)
            for (pid, _), grade in zip(request.passages, grades, strict=True)
        ]
    counters.failures += len(request.passages)
    return [
        Judgement(request.query_id, pid, "failed", None, config.max_attempts, answer, error)
        for pid, _ in request.passages
    ]


def _calls(requests: Sequence[Request], listwise: bool, window: int) -> list[Request]:
    calls = []
    for request in requests:
        size = window if listwise else 1
        for start in range(0, len(request.passages), size):
            calls.append(Request(request.query_id, request.query, request.passages[start : start + size]))
    return calls


def judge_all(
    backend: Backend,
    config: JudgeConfig,
    cache: JudgementCache,
    requests: Sequence[Request],
    counters: JudgeCounters,
    progress: Callable[[int], None] = lambda n: None,
) -> dict[tuple[str, str], Judgement]:
    """Verdicts for every requested (query id, passage id): cached ``ok`` ones as stored, the rest (new or
    failed before) judged (at most
    ``config.concurrency`` calls in flight), each call's verdicts committed as it completes.
    ``progress(n)`` is told how many passages each finished call (or cache lookup) settled."""
    key = JudgeKey(backend.kind, backend.model, PROMPTS[config.prompt].version)
    known = cache.load(key)
    missing: list[Request] = []
    for request in requests:
        todo = [
            (pid, text)
            for pid, text in dict(request.passages).items()
            if getattr(known.get((request.query_id, pid)), "status", "failed") != "ok"
        ]
        hits = len(dict(request.passages)) - len(todo)
        counters.cache_hits += hits
        progress(hits)
        if todo:
            missing.append(Request(request.query_id, request.query, todo))
    calls = _calls(missing, PROMPTS[config.prompt].listwise, config.listwise_window)

    async def run_all() -> None:
        slots = asyncio.Semaphore(config.concurrency)

        async def one(call: Request) -> None:
            async with slots:
                verdicts = await _judge_call(backend, config, call, counters)
                cache.put(key, verdicts)
                known.update({(v.query_id, v.passage_id): v for v in verdicts})
                progress(len(verdicts))

        async with backend:
            await asyncio.gather(*(one(call) for call in calls))

    if calls:
        asyncio.run(run_all())
    wanted = {(r.query_id, pid) for r in requests for pid, _ in r.passages}
    return {pair: verdict for pair, verdict in known.items() if pair in wanted}
