"""What the server checks before and while it reads a request body (a pure ASGI middleware).

- **Authentication first.** On a protected path, a request without a valid API key is answered 401 from its
  headers alone: its body is never read, however large.
- **A byte cap that streaming cannot bypass.** A declared ``Content-Length`` over ``max_body`` is a 413
  before reading; a chunked body (no length) is counted as it arrives and refused with 413 as soon as it
  passes ``max_body``.
- **Small error bodies.** A 422 lists each error's location, message and type, never the input (which may be
  megabytes long, or a value JSON cannot carry such as ``1e400`` read as infinity); a body that is not JSON
  is a 400.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

Scope = dict[str, Any]
Message = dict[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]

UNAUTHORIZED = "missing or invalid API key"


def key_matches(expected: bytes | None, candidates: Iterable[str | None]) -> bool:
    """True when no key is configured, or some candidate equals it; every candidate is compared in constant
    time (no early exit), so timing does not depend on which header matched."""
    if expected is None:
        return True
    matches = [hmac.compare_digest(c.encode(), expected) for c in candidates if c]
    return any(matches)


def header_keys(headers: dict[str, str]) -> list[str | None]:
    """The key candidates of a request: ``Authorization: Bearer KEY`` and ``X-API-Key: KEY``."""
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    return [credentials.strip() if scheme.lower() == "bearer" else None, headers.get("x-api-key")]


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a streamed body passes the cap (FastAPI passes HTTPExceptions through)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit} bytes", headers={"Connection": "close"})


class RequestGuard:
    """ASGI middleware: 401 before the body on ``protected`` paths, then the byte cap (module docstring)."""

    def __init__(self, app: ASGIApp, *, max_body: int, api_key: bytes | None, protected: set[str]) -> None:
        self.app = app
        self.max_body = max_body
        self.api_key = api_key
        self.protected = protected

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        if scope["path"] in self.protected and not key_matches(self.api_key, header_keys(headers)):
            await _respond(send, 401, {"detail": UNAUTHORIZED}, [(b"www-authenticate", b"Bearer")])
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            await _respond(send, 413, {"detail": f"request body over {self.max_body} bytes"})
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge(self.max_body)
            return message

        await self.app(scope, counted, send)


async def _respond(send, code: int, payload: dict[str, Any], headers: list[tuple[bytes, bytes]] = ()) -> None:
    """Answer without reading the body, and close the connection so the client stops sending it."""
    body = json.dumps(payload).encode()
    start = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *headers,
    ]
    await send({"type": "http.response.start", "status": code, "headers": start})
    await send({"type": "http.response.body", "body": body})


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """400 for a body that is not JSON; otherwise 422 with each error's loc, msg and type (no input echo)."""
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return JSONResponse({"detail": "request body is not valid JSON"}, status_code=400)
    detail = [
        {"loc": list(error.get("loc", ())), "msg": str(error.get("msg", ""))[:200], "type": error.get("type")}
        for error in errors[:10]
    ]
    return JSONResponse({"detail": detail}, status_code=422)
