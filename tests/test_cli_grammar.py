"""One grammar across commands: every option of every command shows its default (read from the config
model), every command has an example, --config and --set (and --output where it writes), -h and --version
work, and commands are listed in pipeline order."""

from __future__ import annotations

import importlib
import inspect

import click
import pytest
import typer
from typer.testing import CliRunner

from retriever.cli import COMMANDS, app
from retriever.options import CommandOptions, field_default, render, show_default

CLICK = typer.main.get_command(app)
WRITES_NOTHING = {"serve"}  # the only command without an --output


def _function(name: str):
    module, function = COMMANDS[name].split(":")
    return importlib.import_module(module), getattr(importlib.import_module(module), function)


def _options(module, name: str) -> list[CommandOptions]:
    """The command's option table (by convention its section is the command's name)."""
    return [
        value
        for value in vars(module).values()
        if isinstance(value, CommandOptions) and value.section == name
    ]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_has_an_example_config_set_and_output(name):
    result = CliRunner().invoke(app, [name, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output and "--config" in result.output and "--set" in result.output
    assert ("--output" in result.output) == (name not in WRITES_NOTHING)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_option_shows_its_default_unless_it_has_none(name):
    module, _ = _function(name)
    declared = {
        param: fields for options in _options(module, name) for param, fields in options.fields.items()
    }
    models = {param: options.model for options in _options(module, name) for param in options.fields}
    for param in CLICK.commands[name].params:
        if param.hidden or param.name in ("help", "config", "set_") or not isinstance(param, click.Option):
            continue
        if param.name in declared:
            has_default = show_default(models[param.name], declared[param.name][0]) is not False
            if has_default:
                assert isinstance(param.show_default, str) and param.show_default, (name, param.name)
        else:  # a plain typer option: its own default is what --help shows
            assert param.default is not None, (name, param.name)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_declared_options_are_parameters_of_the_command(name):
    module, function = _function(name)
    parameters = set(inspect.signature(function).parameters)
    for options in _options(module, name):
        assert set(options.fields) <= parameters, (name, set(options.fields) - parameters)


def test_defaults_are_read_from_the_models_and_rendered_as_typed():
    from retriever.eval.config import EvalConfig
    from retriever.judge.config import JudgeRunConfig

    assert field_default(EvalConfig, "bm25.k1") == 1.5
    assert field_default(JudgeRunConfig, "judge.kind") == "openai"  # through the parent's default instance
    assert show_default(EvalConfig, "data") is False and show_default(EvalConfig, "split") is False
    assert render(" ") == "' '" and render(["dense", "bm25"]) == "dense, bm25" and render(True) == "on"
    help_text = CliRunner().invoke(app, ["eval", "--help"], terminal_width=200).output
    assert "' '" in help_text  # the title separator's default, a space, is visible


def test_commands_are_listed_in_pipeline_order():
    output = CliRunner().invoke(app, ["-h"], terminal_width=200).output.split("Commands")[1]
    order = ["mine", "train", "eval", "index", "serve", "push", "run", "convert"]
    positions = [output.index(f" {name} ") for name in order]
    assert positions == sorted(positions)


def test_version():
    from importlib.metadata import version

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"retriever {version('retriever')}"


def test_config_file_then_set_then_options(tmp_path):
    from retriever.eval.command import OPTIONS

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("eval:\n  data: scifact\n  k: 50\n  bm25: {k1: 0.9}\n  retrievers: [bm25]\n")
    config = OPTIONS.build({"k": 10, "bm25_b": None}, config=recipe, overrides=["bm25.b=0.4"])
    assert (config.data, config.k, config.bm25.k1, config.bm25.b, config.retrievers) == (
        "scifact", 10, 0.9, 0.4, ["bm25"],
    )  # fmt: skip
    with pytest.raises(Exception, match="both set it"):
        OPTIONS.build({"k": 10}, config=recipe, overrides=["k=5"])


def test_one_option_sets_the_title_separator_of_encoder_and_bm25():
    from retriever.eval.command import OPTIONS

    config = OPTIONS.build({"data": "d", "title_separator": " | "}, config=None, overrides=[])
    assert config.encoder.title_separator == config.bm25.title_separator == " | "


def test_missing_required_field_is_one_error_line(tmp_path):
    result = CliRunner().invoke(app, ["eval", "--retriever", "bm25"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "data" in lines[0]
