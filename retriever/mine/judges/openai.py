"""An OpenAI-compatible chat-completions judge backend (vLLM, Ollama, llama.cpp server, OpenAI) over httpx.

``POST {base_url}/chat/completions`` with ``model``, ``messages``, ``temperature`` and ``max_tokens``, and with
``structured`` the prompt's answer schema as ``response_format`` (``json_schema``: constrained decoding in
llama.cpp, vLLM, Ollama and OpenAI, so even a small model answers in the parseable format). Faults
mapped to :class:`RetryableError` reasons: ``timeout``, ``connection``, ``rate_limited`` (429, with the
``Retry-After`` seconds or HTTP date), ``server_error`` (5xx), ``malformed_json`` (a body that is not the
chat-completions shape), ``empty_choices``. Any other 4xx (bad key, unknown model) stops the run with a
one-line :class:`RetrieverError`. The API key is read from the environment and sent only as a bearer header:
it is never logged nor put in an error message.
"""

from __future__ import annotations

import email.utils
import os
import time

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


class OpenAIBackend:
    """Async client for one endpoint and model; use as ``async with`` around the calls."""

    kind = "openai"

    def __init__(self, config: JudgeConfig) -> None:
        self.model = str(config.model)
        self.base_url = config.base_url.rstrip("/")
        self._config = config
        self._key = os.environ.get(config.api_key_env)
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> OpenAIBackend:
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        limits = httpx.Limits(max_connections=self._config.concurrency)
        self._client = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=self._config.timeout_s, limits=limits
        )
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
        try:
            response = await self._client.post("/chat/completions", json=payload)
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
                f"judge endpoint {self.base_url} refused the request (HTTP {response.status_code}); "
                f"check --judge-model {self.model!r} and the key in ${self._config.api_key_env}"
            )
        try:
            body = response.json()
        except ValueError:
            raise RetryableError("malformed_json") from None
        return _content(body)
