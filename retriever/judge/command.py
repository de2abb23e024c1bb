"""``retriever judge``: the typer command over :func:`retriever.judge.run.run_judge`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retriever.judge.config import JudgeRunConfig
from retriever.options import CommandOptions, ConfigFile, Overrides

OPTIONS = CommandOptions(JudgeRunConfig, section="judge")
option = OPTIONS.option


def judge_command(
    data: Annotated[
        str | None, option("--data", "-d", help="Dataset with qrels (path or name), e.g. a TREC DL pool.")
    ] = None,
    split: Annotated[
        str | None, option("--split", help="qrels split.", default="test, or the only split present")
    ] = None,
    sample: Annotated[
        int | None, option("--sample", help="Labelled pairs judged, stratified by grade.")
    ] = None,
    seed: Annotated[int | None, option("--seed", help="Seed of the sample and the intervals.")] = None,
    unjudged: Annotated[
        int | None,
        option("--unjudged", help="Add top BM25 hits outside the qrels as grade 0 (judged pools only)."),
    ] = None,
    threshold: Annotated[
        int | None,
        option(
            "--threshold",
            field="relevance_threshold",
            help="Binary label: grade >= this.",
            default="2 for graded qrels, else 1",
        ),
    ] = None,
    judge: Annotated[
        str | None,
        OPTIONS.common("--judge", "judge."),
    ] = None,
    judge_base_url: Annotated[
        list[str] | None,
        OPTIONS.common("--judge-base-url", "judge."),
    ] = None,
    judge_model: Annotated[
        str | None,
        OPTIONS.common("--judge-model", "judge."),
    ] = None,
    judge_prompt: Annotated[
        str | None,
        OPTIONS.common("--judge-prompt", "judge."),
    ] = None,
    judge_concurrency: Annotated[int | None, OPTIONS.common("--judge-concurrency", "judge.")] = None,
    output: Annotated[
        Path | None,
        option("--output", "-o", help="Folder for judge_report.json/.md and the judgement cache."),
    ] = None,
    config: ConfigFile = None,
    set_: Overrides = None,
) -> None:
    """Measure an LLM judge against human labels: Cohen's kappa, weighted kappa, confusion, speed.

    Example: retriever judge --data msmarco-dl19-judged --sample 400 --judge openai
    --judge-base-url http://127.0.0.1:8080/v1 --judge-model smollm2 --judge-prompt graded
    """
    from rich.console import Console
    from rich.table import Table

    from retriever.judge.run import interval, run_judge

    report = run_judge(OPTIONS.build(locals(), config=config, overrides=set_))
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
