"""Recipes: chaining defaults between stages, substitution, and errors that name the section and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from retriever.errors import InputError
from retriever.recipe import load_recipe, stage_settings
from retriever.run_command import validate_stages

RECIPE = """
name: demo
output: {out}
mine:
  data: scifact
  candidates: {{bi_encoder: some/model}}
train:
  model: some/model
  loss: lsepair
eval:
  data: scifact
  models: [some/model, "{{trained}}"]
index:
  data: scifact
serve:
  queries: ["what causes cancer?"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_stages_chain_through_the_output_directory(tmp_path):
    recipe = load_recipe(write(tmp_path, RECIPE.format(out=tmp_path / "run")))
    assert recipe.stages() == ["mine", "train", "eval", "index", "serve"]
    train = stage_settings(recipe, "train")
    assert train["data"] == str(tmp_path / "run" / "mined" / "train.jsonl")
    assert train["output"] == str(tmp_path / "run" / "model")
    evaluation = stage_settings(recipe, "eval")
    assert evaluation["models"] == ["some/model", str(tmp_path / "run" / "model")]
    assert evaluation["output"] == str(tmp_path / "run" / "eval")
    index = stage_settings(recipe, "index")
    assert index["model"] == str(tmp_path / "run" / "model") and index["output"] == str(
        tmp_path / "run" / "index"
    )


def test_overrides_and_validation_before_any_model_loads(tmp_path):
    path = write(tmp_path, RECIPE.format(out=tmp_path / "run"))
    recipe = load_recipe(path, ["train.lr=0.001", "train.output={output}/other"])
    configs = validate_stages(recipe, path, recipe.stages())
    assert configs["train"].lr == pytest.approx(0.001)
    assert configs["train"].output == tmp_path / "run" / "other"
    assert stage_settings(recipe, "eval")["models"][1] == str(tmp_path / "run" / "other")


def test_a_bad_field_names_the_file_and_the_section(tmp_path):
    path = write(tmp_path, RECIPE.format(out=tmp_path / "run"))
    recipe = load_recipe(path, ["train.max_positives=0"])
    with pytest.raises(InputError) as error:
        validate_stages(recipe, path, recipe.stages())
    assert str(path) in str(error.value) and "train.max_positives" in str(error.value)


def test_trained_without_a_train_stage_is_an_error(tmp_path):
    path = write(tmp_path, "name: x\neval: {data: scifact, models: ['{trained}']}\n")
    with pytest.raises(InputError, match="no train stage"):
        stage_settings(load_recipe(path), "eval")


def test_unknown_top_level_key_is_rejected(tmp_path):
    with pytest.raises(InputError, match="trian"):
        load_recipe(write(tmp_path, "name: x\ntrian: {}\n"))


def test_an_unknown_loss_is_caught_before_the_first_stage_runs(tmp_path):
    path = write(tmp_path, RECIPE.format(out=tmp_path / "run"))
    recipe = load_recipe(path, ["train.loss=focal"])
    with pytest.raises(InputError, match="train.loss.*unknown loss 'focal'"):
        validate_stages(recipe, path, recipe.stages())  # mine is validated too, and nothing has run
    staged = load_recipe(path, ["train.stages=[{loss: focal}]"])
    with pytest.raises(InputError, match="unknown loss 'focal'"):
        validate_stages(staged, path, staged.stages())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        (
            "name: x\ntrain: {loss: lsepair}\ntrain: {loss: jointlh}\n",
            r"recipe.yaml:3: .*duplicate key 'train'",
        ),
        ("name: x\ntrain:\n  lr: 1.0e-5\n  lr: 2.0e-5\n", r"recipe.yaml:4: .*duplicate key 'lr'"),
    ],
)
def test_empty_recipes_and_repeated_keys_are_errors(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        load_recipe(write(tmp_path, text))


def test_a_recipe_without_stages_runs_nothing_and_says_so(tmp_path):
    from retriever.run_command import run_recipe

    with pytest.raises(InputError, match="nothing to run"):
        run_recipe(write(tmp_path, "name: x\n"))


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "recipes").glob("*.yaml")), ids=str)
def test_every_shipped_recipe_validates(path):
    recipe = load_recipe(path)
    configs = validate_stages(recipe, path, recipe.stages())
    assert set(configs) == set(recipe.stages())
