"""``retriever eval``: the typer command over :func:`retriever.eval.runner.evaluate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from retriever.eval.config import EvalConfig
from retriever.options import CommandOptions, ConfigFile, Overrides

OPTIONS = CommandOptions(EvalConfig, section="eval")
option = OPTIONS.option


def eval_command(
    data: Annotated[
        str | None, option("--data", "-d", help="Dataset directory (BEIR, MS MARCO, DPR) or name.")
    ] = None,
    model: Annotated[
        list[str] | None,
        option("--model", "-m", field="models", help="Bi-encoder name or path; repeat to compare models."),
    ] = None,
    split: Annotated[
        str | None, option("--split", help="qrels split.", default="test, or the only split present")
    ] = None,
    retriever: Annotated[
        list[str] | None,
        option("--retriever", "-r", field="retrievers", help="dense, bm25 or hybrid; repeat for several."),
    ] = None,
    index: Annotated[
        str | None, option("--index", field="index.type", help="FAISS index: flat (exact), hnsw or ivfpq.")
    ] = None,
    output: Annotated[
        Path | None, option("--output", "-o", help="Directory for run.trec, report.json and report.md.")
    ] = None,
    k: Annotated[int | None, option("--k", help="Documents retrieved per query (run depth).")] = None,
    encode_batch_size: Annotated[int | None, OPTIONS.common("--encode-batch-size", "encoder.")] = None,
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
        option(
            "--title-separator",
            field=("encoder.title_separator", "bm25.title_separator"),
            help="Joins title and text (encoder and BM25).",
        ),
    ] = None,
    bm25_k1: Annotated[
        float | None, option("--bm25-k1", field="bm25.k1", help="BM25 term-frequency saturation.")
    ] = None,
    bm25_b: Annotated[
        float | None, option("--bm25-b", field="bm25.b", help="BM25 length normalisation.")
    ] = None,
    bm25_method: Annotated[
        str | None,
        option("--bm25-method", field="bm25.method", help="lucene, robertson, atire, bm25l or bm25+."),
    ] = None,
    bm25_backend: Annotated[
        str | None, option("--bm25-backend", field="bm25.backend", help="bm25s, rank_bm25 or pyserini.")
    ] = None,
    fusion: Annotated[
        str | None, option("--fusion", field="fusion.method", help="Hybrid fusion: rrf or interpolation.")
    ] = None,
    alpha: Annotated[
        float | None, option("--alpha", field="fusion.alpha", help="Interpolation weight of the dense run.")
    ] = None,
    feedback_depth: Annotated[int | None, OPTIONS.common("--feedback-depth", "feedback.")] = None,
    feedback_weight: Annotated[float | None, OPTIONS.common("--feedback-weight", "feedback.")] = None,
    expand_with: Annotated[str | None, OPTIONS.common("--expand-with", "expansion.")] = None,
    expansion_weight: Annotated[float | None, OPTIONS.common("--expansion-weight", "expansion.")] = None,
    style: Annotated[
        str | None, option("--style", help="Metric set: auto (from the data), beir, msmarco or nq.")
    ] = None,
    metric: Annotated[
        list[str] | None,
        option(
            "--metric",
            field="metrics",
            help="A metric replacing the style's set (repeatable).",
            default="the style's",
        ),
    ] = None,
    relevance_threshold: Annotated[
        int | None,
        option("--relevance-threshold", help="Lowest relevant grade for binary metrics.", default="by style"),
    ] = None,
    remove_self_hits: Annotated[
        bool | None,
        option(
            "--remove-self-hits/--keep-self-hits",
            help="Drop hits whose doc id equals the query id (as BEIR and MTEB).",
            default="remove in BEIR style",
        ),
    ] = None,
    cache: Annotated[
        bool | None, option("--cache/--no-cache", help="Read and write the on-disk embedding cache.")
    ] = None,
    cache_dir: Annotated[
        Path | None,
        option(
            "--cache-dir", help="Embedding cache root.", default="$RETRIEVER_CACHE_HOME or ~/.cache/retriever"
        ),
    ] = None,
    device: Annotated[
        str | None,
        OPTIONS.common("--device", "encoder."),
    ] = None,
    precision: Annotated[str | None, OPTIONS.common("--precision", "encoder.")] = None,
    config: ConfigFile = None,
    set_: Overrides = None,
) -> None:
    """Evaluate dense, BM25 and hybrid retrieval on a dataset: prints a table, writes runs and reports.

    Example: retriever eval --data scifact --model sentence-transformers/all-MiniLM-L6-v2 -r dense -r hybrid
    --output runs/eval
    """
    from rich.console import Console

    from retriever.eval.report import table
    from retriever.eval.runner import encode_on_all_ranks, evaluate

    settings = OPTIONS.build(locals(), config=config, overrides=set_)
    if encode_on_all_ranks(settings):
        return
    report = evaluate(settings)
    console = Console()
    console.print(table(report))
    if settings.output is not None:
        output = Path(settings.output)
        console.print(f"wrote {output / 'report.json'}, {output / 'report.md'} and the run file(s)")
