"""``retriever push``: write a model card for a checkpoint and upload both to the Hugging Face Hub."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from pydantic import Field

from retriever.config import StrictModel
from retriever.errors import InputError
from retriever.options import CommandOptions, ConfigFile, Overrides
from retriever.outputs import require_output_dir


class PushConfig(StrictModel):
    """``retriever push``: what to publish, where, and with which card metadata."""

    checkpoint: Path = Field(description="Sentence-transformers checkpoint folder to publish.")
    repo_id: str = Field(description="Hub repository, OWNER/NAME.")
    private: bool = Field(False, description="Create the repository as private.")
    dry_run: bool = Field(False, description="Only write the upload folder (needs output); no token.")
    output: Path | None = Field(None, description="Folder to write the upload into (required with dry_run).")
    report: Path | None = Field(
        None, description="report.json of `retriever eval`; its metrics go to model-index."
    )
    license: str = Field("apache-2.0", description="License id for the card.")
    base_model: str | None = Field(
        None, description="Hub id of the model fine-tuned (None: training config)."
    )
    datasets: list[str] = Field(default_factory=list, description="Hub ids of the training datasets.")


OPTIONS = CommandOptions(PushConfig, section="push")
option = OPTIONS.option


def push_command(
    checkpoint: Annotated[
        Path | None,
        OPTIONS.argument("checkpoint", help="Sentence-transformers checkpoint folder to publish."),
    ] = None,
    repo_id: Annotated[str | None, option("--repo-id", help="Hub repository, OWNER/NAME.")] = None,
    private: Annotated[
        bool | None, option("--private/--public", help="Visibility of a new repository.")
    ] = None,
    dry_run: Annotated[
        bool | None,
        option("--dry-run/--upload", help="Only write the upload folder (needs --output); no token."),
    ] = None,
    output: Annotated[
        Path | None,
        option("--output", "-o", help="Folder to write the upload into (required with --dry-run)."),
    ] = None,
    report: Annotated[
        Path | None,
        option("--report", help="report.json of `retriever eval`; its metrics go to model-index."),
    ] = None,
    license: Annotated[str | None, option("--license", help="License id for the card.")] = None,
    base_model: Annotated[
        str | None,
        option("--base-model", help="Hub id of the model fine-tuned.", default="from the training config"),
    ] = None,
    dataset: Annotated[
        list[str] | None,
        option("--dataset", field="datasets", help="Hub id of a training dataset (repeatable)."),
    ] = None,
    config: ConfigFile = None,
    set_: Overrides = None,
) -> None:
    """Write a model card (metadata, eval results, training loss, hyperparameters) and upload a checkpoint.

    The token comes from HF_TOKEN or `hf auth login` and is never printed.

    Example: retriever push runs/model --repo-id me/minilm-scifact --report runs/eval/report.json
    """
    from retriever.hub import CardInfo, build_card, check_repo_id, stage_folder, upload

    settings = OPTIONS.build(locals(), config=config, overrides=set_)
    check_repo_id(settings.repo_id)
    if settings.dry_run and settings.output is None:
        raise InputError("--dry-run needs --output DIR to write the upload folder into", field="output")
    if settings.output is not None:
        require_output_dir(settings.output)
    info = CardInfo(
        repo_id=settings.repo_id,
        license=settings.license,
        base_model=settings.base_model,
        datasets=settings.datasets,
    )
    card = build_card(settings.checkpoint, info, settings.report)
    if settings.output is not None:
        folder = stage_folder(settings.checkpoint, settings.output, card)
        typer.echo(f"wrote {folder} ({sum(1 for p in folder.rglob('*') if p.is_file())} files)")
    if settings.dry_run:
        return
    with tempfile.TemporaryDirectory(prefix="retriever-push-") as tmp:
        folder = settings.output or stage_folder(settings.checkpoint, Path(tmp) / "upload", card)
        url = upload(folder, settings.repo_id, private=settings.private)
    typer.echo(f"uploaded {settings.checkpoint} to {settings.repo_id}: {url}")
