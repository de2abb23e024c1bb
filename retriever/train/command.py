"""``retriever train``: fine-tune a bi-encoder on a training file (a thin layer over :func:`train`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from retriever.config import config_from_sources
from retriever.train.config import TrainConfig

# Options that set the TrainConfig field of the same name; an option left unset keeps the recipe's value.
_FIELDS = (
    "data", "model", "loss", "epochs", "max_steps", "batch_size", "lr", "max_positives", "hard_negatives",
    "max_seq_length", "positive_sources", "output", "seed", "precision", "cached",
)  # fmt: skip


def build_config(recipe: Path | None, options: dict[str, Any], overrides: list[str]) -> TrainConfig:
    """Recipe (its ``train:`` mapping, or the whole file) <- ``--set`` overrides <- explicit options."""
    given = {field: options.get(field) for field in _FIELDS}
    return config_from_sources(
        TrainConfig, recipe=recipe, section="train", overrides=overrides, options=given
    )


def train_command(
    data: Annotated[
        Path | None, typer.Option(help="Training file (JSON lines from `retriever mine`/convert).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Base model: a local path or a hub name.")] = None,
    loss: Annotated[
        str | None, typer.Option(help="Objective: single, rand1lh, jointlh, summarglh or lsepair.")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Passes over the training queries.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many optimizer steps.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Queries per step (summed over processes).")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate (linear warm-up and decay).")] = None,
    max_positives: Annotated[int | None, typer.Option(help="At most this many positives per query.")] = None,
    hard_negatives: Annotated[int | None, typer.Option(help="Hard negatives per query per step.")] = None,
    max_seq_length: Annotated[int | None, typer.Option(help="Token limit of queries and passages.")] = None,
    positive_sources: Annotated[
        list[str] | None,
        typer.Option("--positive-source", help="Train on positives of this source (repeat: qrels, llm)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Output directory: checkpoints, log, final model.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of batches, draws, dev split and dropout.")] = None,
    precision: Annotated[
        str | None, typer.Option(help="auto (bf16 where native), fp32, fp16 or bf16.")
    ] = None,
    cached: Annotated[
        bool | None, typer.Option("--cached/--no-cached", help="GradCache variant of the loss.")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the newest checkpoint in --output.")] = False,
    config: Annotated[
        Path | None, typer.Option(help="Recipe YAML (its `train:` mapping, or a flat one).")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a recipe field: key=value (dotted keys).")
    ] = None,
) -> None:
    """Fine-tune a bi-encoder with a multi-positive objective; writes a sentence-transformers checkpoint."""
    options = {name: value for name, value in locals().items() if name in _FIELDS}
    train_config = build_config(config, options, set_ or [])
    from retriever.train.trainer import train

    final = train(train_config, resume=resume)
    typer.echo(f"model saved to {final}")
