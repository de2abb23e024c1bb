"""Run the app with uvicorn: in the foreground (``retriever serve``) or in a thread (tests, benchmarks).

The listening socket is bound here, before uvicorn starts, so ``port=0`` yields a free port whose number is
known at once, and a port already in use is a one-line error.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from retriever.errors import RetrieverError

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on (host, port); errors (port in use, bad host) become RetrieverError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY only on such sockets, and without it Nagle + delayed
    # ACK add ~40 ms to every response uvicorn writes in two parts (headers, body)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise RetrieverError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def _server(app: Any, log_level: str):
    import uvicorn

    config = uvicorn.Config(
        app, log_level=log_level, access_log=log_level in ("info", "debug"), lifespan="on"
    )
    return uvicorn.Server(config)


def serve_forever(app: Any, host: str, port: int, log_level: str = "info") -> None:
    """Serve until interrupted (Ctrl-C)."""
    sock = bind(host, port)
    try:
        _server(app, log_level).run(sockets=[sock])
    finally:
        sock.close()


@contextmanager
def running_server(app: Any, host: str = "127.0.0.1", port: int = 0, timeout: float = 60.0) -> Iterator[str]:
    """Serve ``app`` in a daemon thread; yields the base URL and shuts the server down on exit."""
    sock = bind(host, port)
    server = _server(app, "warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="uvicorn")
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RetrieverError(f"the server did not start on {host}:{sock.getsockname()[1]}")
        time.sleep(0.01)
    try:
        yield f"http://{f'[{host}]' if ':' in host else host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
