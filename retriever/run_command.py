"""``retriever run RECIPE``: every stage of a recipe, in order, through each stage's Python API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from retriever.config import validate
from retriever.errors import InputError
from retriever.options import ConfigFile, Overrides
from retriever.recipe import STAGES, Recipe, load_recipe, mined_dir, stage_settings


def _stage_models() -> dict[str, type]:
    from retriever.eval.config import EvalConfig
    from retriever.index.config import IndexBuildConfig
    from retriever.mine.config import MineConfig
    from retriever.train.config import TrainConfig

    return {"mine": MineConfig, "train": TrainConfig, "eval": EvalConfig, "index": IndexBuildConfig}


def validate_stages(recipe: Recipe, path: Path, stages: list[str]) -> dict[str, Any]:
    """Validate every selected stage's config before any model is loaded (errors name the section)."""
    models = _stage_models()
    configs: dict[str, Any] = {}
    for stage in stages:
        if stage == "serve":
            if "index" not in recipe.stages():
                raise InputError("the serve section needs an index section", path=path, field="serve")
            configs[stage] = recipe.serve
            continue
        try:
            configs[stage] = validate(models[stage], stage_settings(recipe, stage), source=path)
        except InputError as exc:
            raise InputError(
                exc.reason, path=path, field=f"{stage}.{exc.field}" if exc.field else stage
            ) from None
    return configs


def _banner(stage: str, detail: str) -> None:
    typer.secho(f"\n== {stage}: {detail}", bold=True, err=True)


def run_recipe(
    path: Path, *, only: list[str] | None = None, overrides: list[str] | None = None
) -> dict[str, Any]:
    """Run the recipe's stages (or ``only`` those); returns what each stage produced."""
    recipe = load_recipe(path, overrides)
    stages = [stage for stage in recipe.stages() if not only or stage in only]
    unknown = sorted(set(only or []) - set(STAGES))
    if unknown:
        raise InputError(f"unknown stage(s) {unknown}; choose from {list(STAGES)}")
    if not stages:
        raise InputError(f"nothing to run: the recipe defines none of the stages {list(STAGES)}", path=path)
    configs = validate_stages(recipe, path, stages)
    from rich.console import Console

    results: dict[str, Any] = {}
    if "mine" in configs:
        from retriever.mine.pipeline import mine
        from retriever.mine.summary import eci_table

        _banner("mine", str(mined_dir(recipe)))
        results["mine"] = mine(configs["mine"], mined_dir(recipe))
        Console().print(eci_table(results["mine"]))
    if "train" in configs:
        from retriever.train.trainer import DONE_FILE, train

        output = configs["train"].output
        finished = (output / DONE_FILE).is_file()
        _banner(
            "train",
            f"{output} (finished before: reused if its settings and data are unchanged)"
            if finished
            else str(output),
        )
        # a rerun reuses a finished run, or continues a cut one from its checkpoint, when the settings and the
        # training file's content are the same (the trainer refuses otherwise)
        results["train"] = train(configs["train"], resume=True)
    if "eval" in configs:
        from retriever.eval.report import table
        from retriever.eval.runner import evaluate

        _banner("eval", str(configs["eval"].output))
        report = evaluate(configs["eval"])
        Console().print(table(report))
        results["eval"] = report
    if "index" in configs:
        from retriever.index.directory import build_index

        _banner("index", str(configs["index"].output))
        results["index"] = build_index(configs["index"], replace=True)
    if "serve" in configs:
        from retriever.serve.demo import ask_served_index

        _banner("serve", "sample queries against the served index")
        index = configs.get("index") or validate_stages(recipe, path, ["index"])["index"]  # --only serve
        results["serve"] = ask_served_index(index.output, configs["serve"])
    return results


def run_command(
    recipe: Annotated[
        Path | None,
        typer.Argument(help="Recipe YAML (see recipes/ and retriever.recipe).", show_default=False),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help="Run only this stage (repeatable): mine, train, eval, index, serve.",
            show_default="all",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Where every stage writes.", show_default="the recipe's, runs/<name>"
        ),
    ] = None,
    config: ConfigFile = None,
    set_: Overrides = None,
) -> None:
    """Run a recipe end to end: mine -> train -> eval -> index -> sample queries against the served index.

    Example: retriever run recipes/quickstart.yaml --only eval --set eval.split=dev
    """
    if (recipe is None) == (config is None):
        raise InputError("give the recipe once: as the RECIPE argument or as --config")
    overrides = list(set_ or [])
    if output is not None:
        overrides.append(f"output={output}")
    run_recipe(recipe or config, only=only, overrides=overrides)
