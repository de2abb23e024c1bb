"""``retriever serve``: the HTTP API over an index directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retriever.options import CommandOptions, ConfigFile, Overrides
from retriever.serve.config import ServeConfig

SERVE_OPTIONS = CommandOptions(ServeConfig, section="serve")


def serve_command(
    index_dir: Annotated[
        Path | None, SERVE_OPTIONS.argument("index_dir", help="Directory written by `retriever index`.")
    ] = None,
    host: Annotated[
        str | None, SERVE_OPTIONS.option("--host", help="Interface to bind (loopback by default).")
    ] = None,
    port: Annotated[int | None, SERVE_OPTIONS.option("--port", help="TCP port (0 picks a free one).")] = None,
    api_key: Annotated[
        str | None,
        SERVE_OPTIONS.option(
            "--api-key",
            envvar="RETRIEVER_API_KEY",
            help="Require this key (Authorization: Bearer KEY or X-API-Key: KEY); prefer the env variable.",
            default="none (open)",
        ),
    ] = None,
    retriever: Annotated[
        str | None,
        SERVE_OPTIONS.option("--retriever", help="dense, bm25 or hybrid (bm25/hybrid need index --bm25)."),
    ] = None,
    max_k: Annotated[
        int | None, SERVE_OPTIONS.option("--max-k", help="Largest k a request may ask for.")
    ] = None,
    max_query_chars: Annotated[
        int | None, SERVE_OPTIONS.option("--max-query-chars", help="Longest query, in characters.")
    ] = None,
    max_batch: Annotated[
        int | None, SERVE_OPTIONS.option("--max-batch", help="Most queries per request and per batch.")
    ] = None,
    max_wait_ms: Annotated[
        float | None,
        SERVE_OPTIONS.option(
            "--max-wait-ms",
            help="Extra wait for a batch to fill (0: batch what queued during the last search).",
        ),
    ] = None,
    model: Annotated[
        str | None,
        SERVE_OPTIONS.option(
            "--model",
            "-m",
            help="Use this model path instead of the manifest's (same model).",
            default="the manifest's",
        ),
    ] = None,
    device: Annotated[
        str | None,
        SERVE_OPTIONS.option("--device", help="torch device for queries.", default="cuda when available"),
    ] = None,
    gpu_index: Annotated[
        bool | None,
        SERVE_OPTIONS.option(
            "--gpu-index/--cpu-index", field="use_gpu", help="Move the FAISS index to GPUs."
        ),
    ] = None,
    fusion: Annotated[
        str | None,
        SERVE_OPTIONS.option("--fusion", field="fusion.method", help="Hybrid fusion: rrf or interpolation."),
    ] = None,
    alpha: Annotated[
        float | None,
        SERVE_OPTIONS.option("--alpha", field="fusion.alpha", help="Interpolation weight of the dense run."),
    ] = None,
    feedback_depth: Annotated[int | None, SERVE_OPTIONS.common("--feedback-depth", "feedback.")] = None,
    feedback_weight: Annotated[float | None, SERVE_OPTIONS.common("--feedback-weight", "feedback.")] = None,
    log_level: Annotated[
        str | None, SERVE_OPTIONS.option("--log-level", help="uvicorn log level: critical ... debug, trace.")
    ] = None,
    config: ConfigFile = None,
    set_: Overrides = None,
) -> None:
    """Serve POST /search, GET /health and GET /info (OpenAPI docs at /docs) over an index directory.

    Example: RETRIEVER_API_KEY=secret retriever serve runs/index --retriever hybrid --port 8000
    """
    from retriever.index.directory import load_index
    from retriever.index.searchers import make_searcher
    from retriever.serve.app import create_app
    from retriever.serve.server import LOOPBACK, serve_forever

    if log_level is not None:
        log_level = log_level.lower()
    settings = SERVE_OPTIONS.build(locals(), config=config, overrides=set_)
    loaded = load_index(
        settings.index_dir,
        model=settings.model,
        device=settings.device,
        use_gpu=settings.use_gpu,
        need_bm25=settings.retriever != "dense",
    )
    app = create_app(
        make_searcher(loaded, settings.retriever, settings.fusion, settings.feedback),
        loaded.documents,
        loaded.manifest,
        settings,
    )
    auth = "API key required" if settings.api_key else "no API key"
    typer.echo(
        f"serving {len(loaded.documents)} documents ({settings.retriever}, {auth}) on {settings.host}:{settings.port}"
    )
    if settings.host not in LOOPBACK and settings.api_key is None:
        typer.echo(
            f"warning: listening on {settings.host} without an API key: anyone on the network can query",
            err=True,
        )
    serve_forever(app, settings.host, settings.port, log_level=settings.log_level)
