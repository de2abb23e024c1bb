"""An OpenAI-compatible chat-completions judge backend (vLLM, Ollama, llama.cpp server, OpenAI) over httpx.

``POST {base_url}/chat/completions`` with ``model``, ``messages``, ``temperature`` and ``max_tokens``, and with
``structured`` the prompt's answer schema as ``response_format`` (``json_schema``: constrained decoding in
llama.cpp, vLLM, Ollama and OpenAI, so even a small model answers in the parseable format). Faults
mapped to :class:`RetryableError` reasons: ``timeout``, ``connection``, ``rate_limited`` (429, with the
``Retry-After`` seconds or HTTP date), ``server_error`` (5xx), ``malformed_json`` (a body that is not the
chat-completions shape), ``empty_choices``. Any other 4xx (bad key, unknown model) stops the run with a
one-line :class:`RetrieverError`. The API key is read from the environment and sent only as a bearer header:
it is never logged nor put in an error message.

Several base URLs (``judge.base_url`` as a list) are one backend: :class:`Endpoints` sends each attempt to
the endpoint with the fewest calls in flight, and rests an endpoint that faulted, so the runner's retry of
that call (same attempts budget, same backoff, same counters) lands on another one. The cache key does not
name the endpoints: every endpoint must serve the same model.
"""

from __future__ import annotations

import email.utils
import os
import time
from dataclasses import dataclass

import httpx

from retriever.errors import RetrieverError
from retriever.mine.config import JudgeConfig
from retriever.mine.judges.prompts import PROMPTS
from retriever.mine.judges.runner import Completion, RetryableError


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/invalid."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _content(body: object) -> Completion:
    if not isinstance(body, dict):
        raise RetryableError("malformed_json")
    choices = body.get("choices")
    if not choices:
        raise RetryableError("empty_choices")
    try:
        content = choices[0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise RetryableError("malformed_json") from None
    if not isinstance(content, str):
        raise RetryableError("malformed_json")
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    return Completion(content, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))


#: Faults that say the endpoint itself is unwell (rather than the answer it gave).
ENDPOINT_FAULTS = frozenset({"timeout", "connection", "rate_limited", "server_error"})


@dataclass
class Endpoint:
    """One base URL and its live state: calls in flight, the time (monotonic) before which it gets no new
    call, and whether a probe call is testing it after such a rest."""

    url: str
    in_flight: int = 0
    resting_until: float = 0.0
    probing: bool = False


class Endpoints:
    """Chooses the endpoint of every attempt.

    :meth:`acquire` picks, among the ready endpoints, the one with the fewest calls in flight, ties going
    round-robin. An endpoint is ready when it is healthy, or when it has rested after an
    :data:`ENDPOINT_FAULTS` fault and no probe is out: that one call probes it, and its outcome returns it to
    the rotation or rests it again. A rest lasts ``max_backoff_s + backoff_s`` (longer than any retry delay of
    the runner) or the server's ``Retry-After`` if longer, so the retry of a faulted call goes to another
    endpoint. When none is ready the one whose rest ends first is used, so a single endpoint behaves exactly
    as without this class. Single-threaded (one event loop): no locking.
    """

    def __init__(self, urls: list[str], config: JudgeConfig) -> None:
        self.endpoints = [Endpoint(url) for url in urls]
        self._rest_s = config.max_backoff_s + config.backoff_s
        self._turn = 0

    def acquire(self) -> Endpoint:
        now = time.monotonic()
        count = len(self.endpoints)
        order = [self.endpoints[(self._turn + i) % count] for i in range(count)]
        ready = [e for e in order if e.resting_until == 0.0 or (e.resting_until <= now and not e.probing)]
        chosen = min(ready, key=lambda e: e.in_flight) if ready else min(order, key=lambda e: e.resting_until)
        if chosen.resting_until:
            chosen.probing = True
        chosen.in_flight += 1
        self._turn = (self.endpoints.index(chosen) + 1) % count
        return chosen

    def release(self, endpoint: Endpoint, fault: RetryableError | None) -> None:
        """Record how the attempt on ``endpoint`` ended: ``fault`` None for an answer (even a bad one)."""
        endpoint.in_flight -= 1
        endpoint.probing = False
        if fault is not None and fault.reason in ENDPOINT_FAULTS:
            endpoint.resting_until = time.monotonic() + max(self._rest_s, fault.retry_after or 0.0)
        else:
            endpoint.resting_until = 0.0


class OpenAIBackend:
    """Async client for one model served at one or more endpoints; use as ``async with`` around the calls."""

    kind = "openai"

    def __init__(self, config: JudgeConfig) -> None:
        self.model = str(config.model)
        self.endpoints = Endpoints(config.base_url, config)
        self._config = config
        self._key = os.environ.get(config.api_key_env)
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> OpenAIBackend:
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        limits = httpx.Limits(max_connections=self._config.concurrency)
        self._client = httpx.AsyncClient(headers=headers, timeout=self._config.timeout_s, limits=limits)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def complete(self, messages: list[dict[str, str]], attempt: int) -> Completion:
        assert self._client is not None, "use the backend as an async context manager"
        payload = {
            "model": self.model,
            "messages": messages,
            "temperature": self._config.temperature,
            "max_tokens": self._config.max_tokens,
        }
        if self._config.structured:
            prompt = PROMPTS[self._config.prompt]
            payload["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": prompt.name, "strict": True, "schema": prompt.schema},
            }
        endpoint = self.endpoints.acquire()
        fault: RetryableError | None = None
        try:
            return await self._post(endpoint.url, payload)
        except RetryableError as exc:
            fault = exc
            raise
        finally:
            self.endpoints.release(endpoint, fault)

    async def _post(self, url: str, payload: dict) -> Completion:
        try:
            response = await self._client.post(f"{url}/chat/completions", json=payload)
        except httpx.TimeoutException:
            raise RetryableError("timeout") from None
        except httpx.TransportError:
            raise RetryableError("connection") from None
        if response.status_code == 429:
            raise RetryableError("rate_limited", retry_after_seconds(response.headers.get("retry-after")))
        if response.status_code >= 500:
            raise RetryableError("server_error")
        if response.status_code >= 400:
            raise RetrieverError(
                f"judge endpoint {url} refused the request (HTTP {response.status_code}); "
                f"check --judge-model {self.model!r} and the key in ${self._config.api_key_env}"
            )
        try:
            body = response.json()
        except ValueError:
            raise RetryableError("malformed_json") from None
        return _content(body)
