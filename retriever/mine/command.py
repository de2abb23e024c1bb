"""``retriever mine``: the typer command over :func:`retriever.mine.pipeline.mine`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from retriever.config import config_from_sources
from retriever.mine.config import MineConfig

# command option -> dotted MineConfig field
_FIELDS = {
    "data": "data",
    "split": "split",
    "max_queries": "max_queries",
    "candidates": "candidates.sources",
    "depth": "candidates.depth",
    "bi_encoder": "candidates.bi_encoder",
    "teacher": "teacher.model",
    "judge": "judge.kind",
    "judge_base_url": "judge.base_url",
    "judge_model": "judge.model",
    "judge_prompt": "judge.prompt",
    "judge_depth": "judge.judge_depth",
    "judge_concurrency": "judge.concurrency",
    "grade_threshold": "positives.grade_threshold",
    "conflict": "positives.conflict",
    "negatives": "negatives.count",
    "range_min": "negatives.range_min",
    "range_max": "negatives.range_max",
    "sampling": "negatives.sampling",
    "seed": "negatives.seed",
    "strategy": "strategy",
}


def build_config(recipe: Path | None, options: dict[str, Any], overrides: list[str]) -> MineConfig:
    """Recipe (its ``mine:`` mapping, or the whole file) <- ``--set`` overrides <- explicit options."""
    given = {field: options.get(option) for option, field in _FIELDS.items()}
    if given["candidates.sources"] is not None:
        given["candidates.sources"] = [
            part.strip() for part in given["candidates.sources"].split(",") if part.strip()
        ]
    return config_from_sources(MineConfig, recipe=recipe, section="mine", overrides=overrides, options=given)


def mine_command(
    out: Annotated[
        Path, typer.Option(help="Output directory: train.jsonl, manifest.json, checkpoints, caches.")
    ],
    data: Annotated[
        str | None, typer.Option(help="Dataset directory or name (BEIR, MS MARCO, DPR, hub).")
    ] = None,
    split: Annotated[str | None, typer.Option(help="Split whose qrels give the training queries.")] = None,
    max_queries: Annotated[
        int | None, typer.Option(help="Mine only the first N queries (smoke runs).")
    ] = None,
    candidates: Annotated[
        str | None,
        typer.Option(help="Candidate sources, comma-separated: bm25, dense (strategies add theirs)."),
    ] = None,
    depth: Annotated[
        int | None, typer.Option(help="Candidates per source and query, positives apart.")
    ] = None,
    bi_encoder: Annotated[
        str | None,
        typer.Option(help="Bi-encoder for dense candidates (and the teacher when --teacher is unset)."),
    ] = None,
    teacher: Annotated[
        str | None, typer.Option(help="Cross-encoder teacher (raw logits); unset: bi-encoder cosine.")
    ] = None,
    judge: Annotated[
        str | None, typer.Option(help="LLM judge: none, openai (any compatible endpoint) or hf.")
    ] = None,
    judge_base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible base URL ending in /v1; key from $OPENAI_API_KEY.")
    ] = None,
    judge_model: Annotated[
        str | None, typer.Option(help="Judge model name (openai) or local path (hf).")
    ] = None,
    judge_prompt: Annotated[
        str | None, typer.Option(help="pointwise (grade 0-3), graded (TREC assessor scale 0-3) or listwise.")
    ] = None,
    judge_depth: Annotated[
        int | None, typer.Option(help="Best candidates by teacher score judged per query.")
    ] = None,
    judge_concurrency: Annotated[int | None, typer.Option(help="Judge calls in flight at once.")] = None,
    grade_threshold: Annotated[
        int | None, typer.Option(help="LLM grade (0-3) that makes a positive.")
    ] = None,
    conflict: Annotated[
        str | None, typer.Option(help="A qrels positive the LLM grades below threshold: qrels_wins or drop.")
    ] = None,
    negatives: Annotated[int | None, typer.Option(help="Hard negatives per query.")] = None,
    range_min: Annotated[int | None, typer.Option(help="Skip this many top-ranked candidates.")] = None,
    range_max: Annotated[int | None, typer.Option(help="Consider candidates ranked below this only.")] = None,
    sampling: Annotated[
        str | None, typer.Option(help="top (best ranked) or random (seeded) negatives.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of random negative sampling.")] = None,
    strategy: Annotated[
        str | None, typer.Option(help="Negatives from: auto (highest ECI), bm25, dense, teacher or hybrid.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Recipe YAML (its `mine:` mapping, or a flat one).")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a recipe field: key=value (dotted keys).")
    ] = None,
) -> None:
    """Mine multi-positive training data with ECI-scored hard negatives; rerun the same command to resume."""
    options = {name: value for name, value in locals().items() if name in _FIELDS}
    mine_config = build_config(config, options, set_ or [])
    from retriever.mine.pipeline import mine

    manifest = mine(mine_config, out)
    from rich.console import Console

    from retriever.mine.summary import eci_table

    Console().print(eci_table(manifest))
    typer.echo(f"wrote {manifest['counts']['examples']} examples to {out / 'train.jsonl'}")
