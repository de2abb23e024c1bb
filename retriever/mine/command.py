"""``retriever mine``: the typer command over :func:`retriever.mine.pipeline.mine`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retriever.errors import InputError
from retriever.mine.config import MineConfig
from retriever.options import CommandOptions, ConfigFile, Overrides

OPTIONS = CommandOptions(MineConfig, section="mine")
option = OPTIONS.option


def mine_command(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Output directory: train.jsonl, manifest.json, checkpoints, caches."
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", hidden=True, help="Old name of --output.")] = None,
    data: Annotated[
        str | None, option("--data", "-d", help="Dataset directory or name (BEIR, MS MARCO, DPR, hub).")
    ] = None,
    split: Annotated[
        str | None, option("--split", help="Split whose qrels give the training queries.")
    ] = None,
    max_queries: Annotated[
        int | None, option("--max-queries", help="Mine only the first N queries (smoke runs).", default="all")
    ] = None,
    candidates: Annotated[
        list[str] | None,
        option(
            "--candidates",
            field="candidates.sources",
            help="Candidate source, repeatable: bm25, dense (strategies add theirs).",
        ),
    ] = None,
    depth: Annotated[
        int | None, option("--depth", field="candidates.depth", help="Candidates per source and query.")
    ] = None,
    bi_encoder: Annotated[
        str | None,
        option(
            "--bi-encoder",
            field="candidates.bi_encoder",
            help="Bi-encoder for dense candidates (and the teacher when --teacher is unset).",
        ),
    ] = None,
    max_seq_length: Annotated[
        int | None,
        OPTIONS.common("--max-seq-length", "candidates.encoder."),
    ] = None,
    device: Annotated[
        str | None,
        OPTIONS.common("--device", "candidates.encoder."),
    ] = None,
    teacher: Annotated[
        str | None,
        option(
            "--teacher",
            field="teacher.model",
            help="Cross-encoder teacher (raw logits).",
            default="bi-encoder cosine",
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
    judge_depth: Annotated[
        int | None,
        option(
            "--judge-depth",
            field="judge.judge_depth",
            help="Best candidates by teacher score judged per query.",
        ),
    ] = None,
    judge_concurrency: Annotated[
        int | None,
        OPTIONS.common("--judge-concurrency", "judge."),
    ] = None,
    grade_threshold: Annotated[
        int | None,
        option(
            "--grade-threshold",
            field="positives.grade_threshold",
            help="LLM grade (0-3) that makes a positive.",
        ),
    ] = None,
    conflict: Annotated[
        str | None,
        option(
            "--conflict",
            field="positives.conflict",
            help="A qrels positive the LLM grades below threshold: qrels_wins or drop.",
        ),
    ] = None,
    negatives: Annotated[
        int | None, option("--negatives", field="negatives.count", help="Hard negatives per query.")
    ] = None,
    range_min: Annotated[
        int | None,
        option("--range-min", field="negatives.range_min", help="Skip this many top-ranked candidates."),
    ] = None,
    range_max: Annotated[
        int | None,
        option(
            "--range-max",
            field="negatives.range_max",
            help="Consider candidates ranked below this only.",
            default="all",
        ),
    ] = None,
    sampling: Annotated[
        str | None,
        option("--sampling", field="negatives.sampling", help="top (best ranked) or random (seeded)."),
    ] = None,
    seed: Annotated[
        int | None, option("--seed", field="negatives.seed", help="Seed of random negative sampling.")
    ] = None,
    strategy: Annotated[
        str | None,
        option("--strategy", help="Negatives from: auto (highest ECI), bm25, dense, teacher or hybrid."),
    ] = None,
    config: ConfigFile = None,
    set_: Overrides = None,
) -> None:
    """Mine multi-positive training data with ECI-scored hard negatives; rerun the same command to resume.

    Example: retriever mine --data scifact --split train --bi-encoder sentence-transformers/all-MiniLM-L6-v2
    --negatives 8 --output runs/mined
    """
    output = output or out
    if output is None:
        raise InputError(
            "missing option --output: the directory for train.jsonl and manifest.json", field="output"
        )
    mine_config = OPTIONS.build(locals(), config=config, overrides=set_)
    from rich.console import Console

    from retriever.mine.pipeline import encode_on_all_ranks, mine
    from retriever.mine.summary import eci_table

    if encode_on_all_ranks(mine_config):
        return
    manifest = mine(mine_config, output)
    Console().print(eci_table(manifest))
    typer.echo(f"wrote {manifest['counts']['examples']} examples to {output / 'train.jsonl'}")
