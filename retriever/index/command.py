"""``retriever index``: encode a corpus and save a servable index directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retriever.index.config import IndexBuildConfig
from retriever.options import CommandOptions, ConfigFile, Overrides

OPTIONS = CommandOptions(IndexBuildConfig, section="index")


def index_command(
    model: Annotated[
        str | None, OPTIONS.option("--model", "-m", help="Bi-encoder name or local path.")
    ] = None,
    data: Annotated[
        str | None,
        OPTIONS.option("--data", "-d", help="Dataset directory or name; its corpus is indexed."),
    ] = None,
    output: Annotated[
        Path | None,
        OPTIONS.option("--output", "-o", help="Index directory to create (absent or empty)."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", hidden=True, help="Old name of --output.")] = None,
    index: Annotated[
        str | None,
        OPTIONS.option("--index", field="index.type", help="FAISS index: flat (exact), hnsw or ivfpq."),
    ] = None,
    bm25: Annotated[
        bool,
        typer.Option(
            "--bm25", help="Also build a BM25 index (for bm25/hybrid serving; settings: --set bm25.k1=...)."
        ),
    ] = False,
    encode_batch_size: Annotated[
        int | None,
        OPTIONS.common("--encode-batch-size", "encoder."),
    ] = None,
    max_seq_length: Annotated[
        int | None,
        OPTIONS.common("--max-seq-length", "encoder."),
    ] = None,
    query_prompt: Annotated[
        str | None,
        OPTIONS.common("--query-prompt", "encoder."),
    ] = None,
    document_prompt: Annotated[
        str | None,
        OPTIONS.common("--document-prompt", "encoder."),
    ] = None,
    title_separator: Annotated[
        str | None,
        OPTIONS.option(
            "--title-separator",
            field="encoder.title_separator",
            help="Joins title and text (the BM25 part uses the same).",
        ),
    ] = None,
    device: Annotated[
        str | None,
        OPTIONS.common("--device", "encoder."),
    ] = None,
    precision: Annotated[
        str | None,
        OPTIONS.common("--precision", "encoder."),
    ] = None,
    expand_with: Annotated[str | None, OPTIONS.common("--expand-with", "expansion.")] = None,
    expansion_weight: Annotated[float | None, OPTIONS.common("--expansion-weight", "expansion.")] = None,
    cache: Annotated[
        bool | None,
        OPTIONS.option("--cache/--no-cache", help="Read and write the on-disk embedding cache."),
    ] = None,
    config: ConfigFile = None,
    set_: Overrides = None,
) -> None:
    """Encode a corpus and save a FAISS index, the documents, optional BM25 and a manifest into --output.

    Example: retriever index --model runs/model --data scifact --bm25 --output runs/index
    """
    from retriever.index.directory import build_index, encode_on_all_ranks

    output = output or out
    overrides = list(set_ or [])
    if bm25:
        overrides.insert(0, "bm25={}")
    settings = OPTIONS.build(locals(), config=config, overrides=overrides)
    if encode_on_all_ranks(settings):
        return
    directory = build_index(settings)
    typer.echo(f"wrote index {directory}")
