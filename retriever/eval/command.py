"""``retriever eval``: the typer command over :func:`retriever.eval.runner.evaluate`.

Options left unset fall back to the :class:`~retriever.eval.config.EvalConfig` defaults (shown in ``--help``),
so the config models stay the one place where defaults live.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from retriever.config import validate
from retriever.eval.config import EvalConfig
from retriever.retrieval.config import BM25Config, EncoderConfig, FusionConfig


def _default(model: type, name: str) -> str:
    return f"(default: {model.model_fields[name].default!r})"


def _given(**values: Any) -> dict[str, Any]:
    """The options the user set (typer gives None for the others)."""
    return {key: value for key, value in values.items() if value is not None}


def eval_command(
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Bi-encoder name or path; repeat to compare several models."),
    ] = None,
    data: Annotated[
        str, typer.Option("--data", "-d", help="Dataset directory (BEIR, MS MARCO, DPR) or name.")
    ] = ...,
    split: Annotated[
        str | None, typer.Option(help="qrels split (default: test, or the only split present).")
    ] = None,
    retriever: Annotated[
        list[str] | None,
        typer.Option("--retriever", "-r", help="dense, bm25 or hybrid; repeat for several (default: dense)."),
    ] = None,
    index: Annotated[str | None, typer.Option(help="FAISS index: flat (exact), hnsw or ivfpq.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Directory for run.trec, report.json, report.md.")
    ] = None,
    k: Annotated[
        int | None, typer.Option(help=f"Documents retrieved per query {_default(EvalConfig, 'k')}.")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help=f"Texts per forward pass {_default(EncoderConfig, 'batch_size')}.")
    ] = None,
    max_seq_length: Annotated[
        int | None, typer.Option(help="Truncate inputs to this many tokens (default: the model's limit).")
    ] = None,
    query_prompt: Annotated[str | None, typer.Option(help="Prefix for queries, e.g. 'query: ' (E5).")] = None,
    document_prompt: Annotated[
        str | None, typer.Option(help="Prefix for documents, e.g. 'passage: ' (E5).")
    ] = None,
    title_separator: Annotated[
        str | None,
        typer.Option(
            help=f"Joins title and text (encoder and BM25) {_default(EncoderConfig, 'title_separator')}."
        ),
    ] = None,
    bm25_k1: Annotated[
        float | None, typer.Option(help=f"BM25 term-frequency saturation {_default(BM25Config, 'k1')}.")
    ] = None,
    bm25_b: Annotated[
        float | None, typer.Option(help=f"BM25 length normalisation {_default(BM25Config, 'b')}.")
    ] = None,
    bm25_method: Annotated[
        str | None,
        typer.Option(help=f"lucene, robertson, atire, bm25l or bm25+ {_default(BM25Config, 'method')}."),
    ] = None,
    bm25_backend: Annotated[
        str | None, typer.Option(help=f"bm25s, rank_bm25 or pyserini {_default(BM25Config, 'backend')}.")
    ] = None,
    fusion: Annotated[
        str | None,
        typer.Option(help=f"Hybrid fusion: rrf or interpolation {_default(FusionConfig, 'method')}."),
    ] = None,
    alpha: Annotated[
        float | None,
        typer.Option(help=f"Interpolation weight of the dense run {_default(FusionConfig, 'alpha')}."),
    ] = None,
    style: Annotated[
        str | None, typer.Option(help="Metric set: auto, beir, msmarco or nq (default: auto, from the data).")
    ] = None,
    metric: Annotated[
        list[str] | None, typer.Option("--metric", help="A metric replacing the style's set (repeatable).")
    ] = None,
    relevance_threshold: Annotated[
        int | None, typer.Option(help="Lowest relevant grade for binary metrics (default: by style).")
    ] = None,
    remove_self_hits: Annotated[
        bool | None,
        typer.Option(
            "--remove-self-hits/--keep-self-hits",
            help="Drop hits whose doc id equals the query id (default: on in BEIR style, as BEIR and MTEB).",
        ),
    ] = None,
    cache: Annotated[
        bool | None, typer.Option("--cache/--no-cache", help="Use the on-disk embedding cache (default: on).")
    ] = None,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Cache root (default: $RETRIEVER_CACHE_HOME or ~/.cache/retriever).")
    ] = None,
    device: Annotated[str | None, typer.Option(help="torch device (default: cuda when available).")] = None,
    precision: Annotated[
        str | None,
        typer.Option(help=f"Encoding precision: fp32 or bf16 {_default(EncoderConfig, 'precision')}."),
    ] = None,
) -> None:
    """Evaluate dense, BM25 and hybrid retrieval on a dataset: prints a table, writes runs and reports."""
    from rich.console import Console

    from retriever.eval.report import table
    from retriever.eval.runner import evaluate

    encoder = _given(
        batch_size=batch_size,
        max_seq_length=max_seq_length,
        query_prompt=query_prompt,
        document_prompt=document_prompt,
        title_separator=title_separator,
        device=device,
        precision=precision,
    )
    bm25 = _given(
        backend=bm25_backend, method=bm25_method, k1=bm25_k1, b=bm25_b, title_separator=title_separator
    )
    settings = _given(
        data=data,
        split=split,
        models=model or None,
        retrievers=retriever or None,
        k=k,
        encoder=encoder,
        index=_given(type=index),
        bm25=bm25,
        fusion=_given(method=fusion, alpha=alpha),
        style=style,
        metrics=metric or None,
        relevance_threshold=relevance_threshold,
        remove_self_hits=remove_self_hits,
        cache=cache,
        cache_dir=None if cache_dir is None else str(cache_dir),
        output=None if output is None else str(output),
    )
    report = evaluate(validate(EvalConfig, settings))
    console = Console()
    console.print(table(report))
    if output is not None:
        console.print(f"wrote {output / 'report.json'}, {output / 'report.md'} and the run file(s)")
