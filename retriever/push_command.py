"""``retriever push``: write a model card for a checkpoint and upload both to the Hugging Face Hub."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from retriever.errors import InputError
from retriever.outputs import require_output_dir


def push_command(
    checkpoint: Annotated[Path, typer.Argument(help="Sentence-transformers checkpoint folder to publish.")],
    repo_id: Annotated[str, typer.Option("--repo-id", help="Hub repository, OWNER/NAME.")],
    private: Annotated[bool, typer.Option("--private", help="Create the repository as private.")] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Only write the upload folder (needs --output); no token."),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Folder to write the upload into (required with --dry-run)."),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="report.json of `retriever eval`; its metrics go to model-index."),
    ] = None,
    license: Annotated[str, typer.Option("--license", help="License id for the card.")] = "apache-2.0",
    base_model: Annotated[
        str | None,
        typer.Option("--base-model", help="Hub id of the model fine-tuned (default: training config)."),
    ] = None,
    dataset: Annotated[
        list[str] | None, typer.Option("--dataset", help="Hub id of a training dataset (repeatable).")
    ] = None,
) -> None:
    """Write a model card (metadata, eval results, training loss, hyperparameters) and upload a checkpoint.

    The token comes from HF_TOKEN or `hf auth login` and is never printed.
    """
    from retriever.hub import CardInfo, build_card, check_repo_id, stage_folder, upload

    check_repo_id(repo_id)
    if dry_run and output is None:
        raise InputError("--dry-run needs --output DIR to write the upload folder into", field="output")
    if output is not None:
        require_output_dir(output)
    info = CardInfo(repo_id=repo_id, license=license, base_model=base_model, datasets=list(dataset or []))
    card = build_card(checkpoint, info, report)
    if output is not None:
        folder = stage_folder(checkpoint, output, card)
        typer.echo(f"wrote {folder} ({sum(1 for p in folder.rglob('*') if p.is_file())} files)")
    if dry_run:
        return
    with tempfile.TemporaryDirectory(prefix="retriever-push-") as tmp:
        folder = output if output is not None else stage_folder(checkpoint, Path(tmp) / "upload", card)
        url = upload(folder, repo_id, private=private)
    typer.echo(f"uploaded {checkpoint} to {repo_id}: {url}")
