"""Recipes: one YAML file that chains the stages ``mine -> train -> eval -> index -> serve``.

A recipe is a mapping with a ``name``, an optional ``output`` directory (default ``runs/<name>``) and one
optional section per stage, each validated by that stage's own config model (so a recipe accepts exactly the
fields the stage's CLI accepts)::

    name: quickstart
    mine:  {data: scifact, split: train, ...}          # MineConfig, written to {output}/mined
    train: {model: ..., loss: lsepair, ...}            # TrainConfig; data defaults to the mined file
    eval:  {data: scifact, models: [..., "{trained}"]} # EvalConfig; output defaults to {output}/eval
    index: {data: scifact}                             # IndexBuildConfig; model defaults to {trained}
    serve: {queries: ["..."], k: 5}                    # sample queries against the served index

Strings may refer to ``{output}`` (the recipe's output directory) and ``{trained}`` (the final checkpoint of
the train stage). Stages run in the order above; ``only`` picks a subset (an earlier stage's outputs must then
exist on disk). Running a recipe again into the same output redoes nothing that is done: mining resumes from its
checkpoints, and a finished training run is reused (a cut one continued) when its settings and the training
file's content are unchanged (otherwise the train stage stops with a one-line error), and the index is rebuilt
beside the old one, which it replaces once complete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from retriever.config import StrictModel, apply_overrides, load_yaml, validate
from retriever.errors import InputError
from retriever.retrieval.config import FeedbackConfig

STAGES = ("mine", "train", "eval", "index", "serve")


class SampleQueries(StrictModel):
    """Queries sent to the served index at the end of a recipe, printed with their top hits."""

    queries: list[str] = Field(min_length=1, description="Queries to send to POST /search.")
    k: int = Field(3, ge=1, description="Hits shown per query.")
    retriever: str = Field("dense", description="dense, bm25 or hybrid.")
    feedback: FeedbackConfig = Field(
        default_factory=FeedbackConfig, description="Dense pseudo-relevance feedback, as `retriever serve`'s."
    )


class Recipe(StrictModel):
    """The top level of a recipe file; stage sections stay raw until :func:`stage_config` validates them."""

    name: str = Field(description="Recipe name; the default output directory is runs/<name>.")
    output: Path | None = Field(None, description="Where every stage writes (default runs/<name>).")
    mine: dict[str, Any] | None = None
    train: dict[str, Any] | None = None
    eval: dict[str, Any] | None = None
    index: dict[str, Any] | None = None
    serve: SampleQueries | None = None

    @property
    def output_dir(self) -> Path:
        return self.output or Path("runs") / self.name

    def stages(self) -> list[str]:
        """The stages this recipe defines, in run order."""
        return [stage for stage in STAGES if getattr(self, stage) is not None]


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read and validate a recipe; ``overrides`` are ``section.field=value`` strings applied first."""
    data = apply_overrides(load_yaml(path), list(overrides or []))
    return validate(Recipe, data, source=path)


def _substitute(value: Any, names: dict[str, str]) -> Any:
    """Replace ``{output}``/``{trained}`` in every string of a nested structure."""
    if isinstance(value, str):
        for key, replacement in names.items():
            value = value.replace("{" + key + "}", replacement)
        if "{trained}" in value:
            raise InputError("'{trained}' is used but the recipe has no train stage", field=value)
        return value
    if isinstance(value, list):
        return [_substitute(item, names) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, names) for key, item in value.items()}
    return value


def trained_model_dir(recipe: Recipe) -> Path:
    """Where the train stage leaves its final model (TrainConfig.output, default {output}/model)."""
    output = (recipe.train or {}).get("output")
    return (
        Path(_substitute(output, {"output": str(recipe.output_dir)}))
        if output
        else recipe.output_dir / "model"
    )


def stage_settings(recipe: Recipe, stage: str) -> dict[str, Any]:
    """A stage's section with the recipe's defaults filled in and names substituted (not yet validated)."""
    names = {"output": str(recipe.output_dir)}
    if recipe.train is not None:
        names["trained"] = str(trained_model_dir(recipe))
    section = dict(getattr(recipe, stage) or {})
    defaults: dict[str, Any] = {
        "train": {"output": str(recipe.output_dir / "model")},
        "eval": {"output": str(recipe.output_dir / "eval")},
        "index": {"output": str(recipe.output_dir / "index")},
    }.get(stage, {})
    if stage == "train" and recipe.mine is not None:
        defaults["data"] = str(mined_dir(recipe) / "train.jsonl")
    if stage == "index" and recipe.train is not None:
        defaults["model"] = names["trained"]
    return _substitute({**defaults, **section}, names)


def mined_dir(recipe: Recipe) -> Path:
    """Where the mine stage writes train.jsonl and manifest.json."""
    return recipe.output_dir / "mined"
