"""``retriever train``: fine-tune a bi-encoder on a training file (a thin layer over :func:`train`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retriever.options import CommandOptions, ConfigFile, Overrides
from retriever.train.config import TrainConfig

OPTIONS = CommandOptions(TrainConfig, section="train")
option = OPTIONS.option


def train_command(
    data: Annotated[
        Path | None, option("--data", "-d", help="Training file (JSON lines from `retriever mine`/convert).")
    ] = None,
    model: Annotated[
        str | None, option("--model", "-m", help="Base model: a local path or a hub name.")
    ] = None,
    output: Annotated[
        Path | None, option("--output", "-o", help="Output directory: checkpoints, log, final model.")
    ] = None,
    loss: Annotated[
        str | None,
        option("--loss", help="Objective: single (InfoNCE), rand1lh, jointlh, summarglh or lsepair."),
    ] = None,
    epochs: Annotated[int | None, option("--epochs", help="Passes over the training queries.")] = None,
    max_steps: Annotated[
        int | None, option("--max-steps", help="Stop after this many optimizer steps.", default="the epochs'")
    ] = None,
    batch_size: Annotated[
        int | None, option("--batch-size", help="Queries per optimizer step (summed over processes).")
    ] = None,
    lr: Annotated[float | None, option("--lr", help="Peak learning rate (linear warm-up and decay).")] = None,
    max_positives: Annotated[
        int | None, option("--max-positives", help="At most this many positives per query per step.")
    ] = None,
    hard_negatives: Annotated[
        int | None, option("--hard-negatives", help="Hard negatives per query per step.")
    ] = None,
    max_seq_length: Annotated[
        int | None,
        option("--max-seq-length", help="Token limit of queries and passages.", default="the model's limit"),
    ] = None,
    positive_source: Annotated[
        list[str] | None,
        option(
            "--positive-source",
            field="positive_sources",
            help="Train on positives of this source (repeat: qrels, llm).",
            default="all",
        ),
    ] = None,
    seed: Annotated[
        int | None, option("--seed", help="Seed of batches, draws, dev split and dropout.")
    ] = None,
    precision: Annotated[
        str | None, option("--precision", help="auto (bf16 where the hardware has it), fp32, fp16 or bf16.")
    ] = None,
    cached: Annotated[
        bool | None, option("--cached/--no-cached", help="GradCache variant of the loss.")
    ] = None,
    base_weight: Annotated[
        float | None,
        option(
            "--base-weight",
            help="Average the final weights with the base model: (1 - w) trained + w base (WiSE-FT).",
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue from the newest checkpoint in --output (the run must have the same settings and data)."
        ),
    ] = False,
    config: ConfigFile = None,
    set_: Overrides = None,
) -> None:
    """Fine-tune a bi-encoder with a multi-positive objective; writes a sentence-transformers checkpoint.

    Example: retriever train --data runs/mined/train.jsonl --loss lsepair --batch-size 32 --output runs/model
    """
    train_config = OPTIONS.build(locals(), config=config, overrides=set_)
    from retriever.train.trainer import train

    final = train(train_config, resume=resume)
    typer.echo(f"model saved to {final}")
