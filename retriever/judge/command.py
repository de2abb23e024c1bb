"""``retriever judge``: the typer command over :func:`retriever.judge.run.run_judge`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from retriever.config import config_from_sources
from retriever.judge.config import JudgeRunConfig

# option name -> JudgeRunConfig field (dotted); an option left unset keeps the recipe's or the default.
_FIELDS = {
    "data": "data",
    "split": "split",
    "sample": "sample",
    "seed": "seed",
    "unjudged": "unjudged",
    "threshold": "relevance_threshold",
    "output": "output",
    "judge": "judge.kind",
    "judge_base_url": "judge.base_url",
    "judge_model": "judge.model",
    "judge_prompt": "judge.prompt",
    "judge_concurrency": "judge.concurrency",
}


def build_config(recipe: Path | None, options: dict[str, Any], overrides: list[str]) -> JudgeRunConfig:
    """Recipe (its ``judge:`` mapping, or the whole file) <- ``--set`` overrides <- explicit options."""
    given = {field: options.get(option) for option, field in _FIELDS.items()}
    return config_from_sources(
        JudgeRunConfig, recipe=recipe, section="judge", overrides=overrides, options=given
    )


def judge_command(
    data: Annotated[
        str | None, typer.Option(help="Dataset with qrels (path or name), e.g. a TREC DL pool.")
    ] = None,
    split: Annotated[str | None, typer.Option(help="qrels split (default: test, or the only one).")] = None,
    sample: Annotated[
        int | None, typer.Option(help="Labelled pairs judged, stratified by grade [default: 200].")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the sample and the intervals [default: 0].")
    ] = None,
    unjudged: Annotated[
        int | None, typer.Option(help="Add top BM25 hits outside the qrels as grade 0 (judged pools only).")
    ] = None,
    threshold: Annotated[
        int | None, typer.Option(help="Binary label: grade >= this [default: 2 for graded qrels, else 1].")
    ] = None,
    judge: Annotated[
        str | None, typer.Option(help="Judge backend: openai (any compatible server) or hf.")
    ] = None,
    judge_base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible base URL ending in /v1; key from $OPENAI_API_KEY.")
    ] = None,
    judge_model: Annotated[str | None, typer.Option(help="Model name (openai) or local path (hf).")] = None,
    judge_prompt: Annotated[
        str | None,
        typer.Option(help="pointwise, graded (TREC assessor scale) or listwise [default: pointwise]."),
    ] = None,
    judge_concurrency: Annotated[int | None, typer.Option(help="Judge calls in flight [default: 8].")] = None,
    output: Annotated[
        Path | None,
        typer.Option(help="Folder for judge_report.json/.md and the cache [default: runs/judge]."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Recipe YAML (its `judge:` mapping, or a flat one).")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a field: key=value (dotted keys).")
    ] = None,
) -> None:
    """Measure an LLM judge against human labels: Cohen's kappa, weighted kappa, confusion, speed.

    Example: retriever judge --data msmarco-dl19-judged --sample 400 --judge openai
    --judge-base-url http://127.0.0.1:8080/v1 --judge-model smollm2 --judge-prompt graded
    """
    from rich.console import Console
    from rich.table import Table

    from retriever.judge.run import interval, run_judge

    options = {name: value for name, value in locals().items() if name in _FIELDS}
    report = run_judge(build_config(config, options, set_ or []))
    a = report["agreement"]
    table = Table(title=f"{report['judge']['model']} ({report['judge']['prompt_version']}) vs human labels")
    for column in ("pairs", "kappa (binary)", "weighted kappa", "accuracy", "failed", "judgements/s"):
        table.add_column(column, justify="right")
    speed = report["judgements_per_s"]
    table.add_row(
        str(a["pairs"]),
        interval(a["binary_kappa"]),
        interval(a["weighted_kappa"]),
        f"{a['binary_accuracy']:.3f}",
        f"{report['failed']} ({report['failed_share']:.0%})",
        "cached" if speed is None else f"{speed:.2f}",
    )
    Console().print(table)
    typer.echo(f"report: {Path(report['config']['output']) / 'judge_report.json'}")
