"""A loopback OpenAI-compatible ``POST /v1/chat/completions`` server for judge tests, with injected faults.

Grades are a deterministic function of the passage text (:func:`grade_of`), so a test knows every right
answer. ``faults`` is a queue: each request pops the next fault (if any) and suffers it instead of an answer:
``500``, ``429`` (with ``Retry-After: 0``), ``slow`` (sleeps ``slow_s`` then answers, beyond a short client
timeout), ``malformed`` (a truncated JSON body), ``empty`` (``choices: []``), ``garbage`` (unparseable
content), ``401`` (a refused key).
``hold_after=N`` answers N requests normally and then holds every later request open until :meth:`release`
(used to kill a client mid-run). Counters: ``requests`` (all received), ``answered`` per (query, passage), ``response_formats`` (as sent),
``max_in_flight`` (the most requests handled at once).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_QUERY = re.compile(r"^Query: (.*)$", re.MULTILINE)
_POINTWISE = re.compile(r"^Passage: (.*)$", re.MULTILINE)
_LISTWISE = re.compile(r"^\[(\d+)\] (.*)$", re.MULTILINE)


def grade_of(passage: str) -> int:
    """The grade the fake judge gives a passage: sha256 of its text modulo 4."""
    return hashlib.sha256(passage.encode()).digest()[0] % 4


class FakeOpenAI:
    """Start with ``with FakeOpenAI(...) as server:``; ``server.base_url`` ends in ``/v1``."""

    def __init__(self, faults: list[str] | None = None, slow_s: float = 1.0, hold_after: int | None = None):
        self.faults = list(faults or [])
        self.slow_s = slow_s
        self.hold_after = hold_after
        self.requests = 0
        self.answered: Counter[tuple[str, str]] = Counter()
        self.models: Counter[str] = Counter()
        self.auth: set[str | None] = set()
        self.response_formats: list[dict | None] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def release(self) -> None:
        self._released.set()

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def _next(self) -> tuple[str | None, bool]:
        """The fault for this request (or None) and whether it must be held."""
        with self._lock:
            self.requests += 1
            fault = self.faults.pop(0) if self.faults else None
            held = self.hold_after is not None and sum(self.answered.values()) >= self.hold_after
            return fault, held

    def answer(self, payload: dict) -> tuple[str, list[tuple[str, str]]]:
        """The correct content for a request and the (query, passage) pairs it judges."""
        user = payload["messages"][-1]["content"]
        query = _QUERY.search(user).group(1)
        listwise = _LISTWISE.findall(user)
        if listwise:
            relevant = [int(i) for i, text in listwise if grade_of(text) >= 2]
            return json.dumps({"relevant": relevant}), [(query, text) for _, text in listwise]
        passage = _POINTWISE.search(user).group(1)
        return json.dumps({"grade": grade_of(passage)}), [(query, passage)]

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._respond()
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _respond(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length))
                server.auth.add(self.headers.get("Authorization"))
                server.response_formats.append(payload.get("response_format"))
                fault, held = server._next()
                if held:
                    server._released.wait()
                    return self._send(503, b"{}")
                if fault == "401":
                    return self._send(401, b'{"error": "bad key"}')
                if fault == "500":
                    return self._send(500, b'{"error": "boom"}')
                if fault == "429":
                    return self._send(429, b'{"error": "slow down"}', {"Retry-After": "0"})
                if fault == "malformed":
                    return self._send(200, b'{"choices": [{"message": {"content": "{\\"gra')
                if fault == "empty":
                    return self._send(200, json.dumps({"choices": []}).encode())
                if fault == "slow":
                    time.sleep(server.slow_s)
                content, pairs = server.answer(payload)
                if fault == "garbage":
                    content = "I think it is quite relevant, maybe a 2?"
                body = {
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 3},
                }
                if fault != "slow":
                    with server._lock:
                        if fault != "garbage":
                            server.answered.update(pairs)
                        server.models[payload["model"]] += 1
                self._send(200, json.dumps(body).encode())

        return Handler
