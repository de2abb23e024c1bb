"""``retriever index`` (build a servable index directory) and ``retriever serve`` (HTTP API over it)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from retriever.config import apply_overrides, validate
from retriever.serve.config import RetrieverName


class LogLevel(StrEnum):
    """uvicorn's log levels (checked by typer before the index loads)."""

    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"
    trace = "trace"


def index_command(
    model: Annotated[str, typer.Option("--model", help="Bi-encoder name or local path.")],
    data: Annotated[str, typer.Option("--data", help="Dataset directory or name; its corpus is indexed.")],
    out: Annotated[Path, typer.Option("--out", help="Index directory to create (absent or empty).")],
    index: Annotated[
        str, typer.Option("--index", help="FAISS index type: flat (exact), hnsw or ivfpq.")
    ] = "flat",
    bm25: Annotated[
        bool, typer.Option("--bm25", help="Also build a BM25 index (for bm25/hybrid serving).")
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Documents per encoder forward pass.")] = 64,
    max_seq_length: Annotated[
        int | None,
        typer.Option("--max-seq-length", help="Truncate texts to this many tokens (default: model's)."),
    ] = None,
    query_prompt: Annotated[
        str, typer.Option("--query-prompt", help="Prefix for queries (kept for serving).")
    ] = "",
    document_prompt: Annotated[str, typer.Option("--document-prompt", help="Prefix for documents.")] = "",
    title_separator: Annotated[str, typer.Option("--title-separator", help="Joins title and text.")] = " ",
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not read or write the embedding cache.")
    ] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override any setting, e.g. index.hnsw_m=64 or bm25.k1=1.2 (repeatable)."),
    ] = None,
) -> None:
    """Encode a corpus and save a FAISS index, the documents, optional BM25 and a manifest into OUT."""
    from retriever.serve.config import IndexBuildConfig
    from retriever.serve.index_dir import build_index

    settings = {
        "model": model,
        "data": data,
        "out": str(out),
        "index": {"type": index},
        "encoder": {
            "batch_size": batch_size,
            "max_seq_length": max_seq_length,
            "query_prompt": query_prompt,
            "document_prompt": document_prompt,
            "title_separator": title_separator,
        },
        "bm25": {} if bm25 else None,
    }
    config = validate(IndexBuildConfig, apply_overrides(settings, list(set_ or [])))
    directory = build_index(config, use_cache=not no_cache)
    typer.echo(f"wrote index {directory}")


def serve_command(
    index_dir: Annotated[Path, typer.Argument(help="Directory written by `retriever index`.")],
    host: Annotated[
        str, typer.Option("--host", help="Interface to bind (default: loopback only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="RETRIEVER_API_KEY",
            show_default=False,
            help="Require this key (Authorization: Bearer KEY or X-API-Key: KEY); prefer the env variable.",
        ),
    ] = None,
    retriever: Annotated[
        RetrieverName,
        typer.Option("--retriever", help="dense, bm25 or hybrid (bm25/hybrid need index --bm25)."),
    ] = "dense",
    max_k: Annotated[int, typer.Option("--max-k", help="Largest k a request may ask for.")] = 1000,
    max_query_chars: Annotated[
        int, typer.Option("--max-query-chars", help="Longest query, in characters.")
    ] = 4096,
    max_batch: Annotated[
        int, typer.Option("--max-batch", help="Most queries per request and per batch.")
    ] = 64,
    max_wait_ms: Annotated[
        float,
        typer.Option(
            "--max-wait-ms",
            help="Extra wait for a batch to fill (0: batch what queued during the last search).",
        ),
    ] = 0.0,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Use this model path instead of the manifest's (same model)."),
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="torch device for queries (default: auto).")
    ] = None,
    gpu_index: Annotated[
        bool, typer.Option("--gpu-index", help="Move the FAISS index to GPUs (faiss-gpu).")
    ] = False,
    fusion: Annotated[str, typer.Option("--fusion", help="Hybrid fusion: rrf or interpolation.")] = "rrf",
    alpha: Annotated[float, typer.Option("--alpha", help="Interpolation weight of the dense run.")] = 0.5,
    log_level: Annotated[
        LogLevel, typer.Option("--log-level", help="uvicorn log level.", case_sensitive=False)
    ] = LogLevel.info,
) -> None:
    """Serve POST /search, GET /health and GET /info (OpenAPI docs at /docs) over an index directory."""
    from retriever.serve.app import create_app
    from retriever.serve.config import ServeConfig
    from retriever.serve.index_dir import load_index_dir
    from retriever.serve.searchers import make_searcher
    from retriever.serve.server import LOOPBACK, serve_forever

    config = validate(
        ServeConfig,
        {
            "index_dir": str(index_dir),
            "host": host,
            "port": port,
            "retriever": retriever,
            "api_key": api_key or None,
            "max_k": max_k,
            "max_query_chars": max_query_chars,
            "max_batch": max_batch,
            "max_wait_ms": max_wait_ms,
            "device": device,
            "use_gpu": gpu_index,
            "fusion": {"method": fusion, "alpha": alpha},
        },
    )
    loaded = load_index_dir(
        config.index_dir,
        model=model,
        device=config.device,
        use_gpu=config.use_gpu,
        need_bm25=retriever != "dense",
    )
    app = create_app(
        make_searcher(loaded, config.retriever, config.fusion), loaded.documents, loaded.manifest, config
    )
    auth = "API key required" if config.api_key else "no API key"
    typer.echo(f"serving {len(loaded.documents)} documents ({config.retriever}, {auth}) on {host}:{port}")
    if host not in LOOPBACK and config.api_key is None:
        typer.echo(
            f"warning: listening on {host} without an API key: anyone on the network can query", err=True
        )
    serve_forever(app, config.host, config.port, log_level=log_level.value)
