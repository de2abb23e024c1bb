"""The ``retriever`` command line: a thin typer layer over each stage's Python API.

Every command raises :class:`retriever.errors.RetrieverError` for bad input; :func:`user_errors` turns it into a
one-line ``error: ...`` on stderr and exit code 2, never a traceback. Stage modules are imported when the
command runs, so ``retriever --help`` stays fast.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from typing import Any

import typer

from retriever.errors import RetrieverError

app = typer.Typer(
    name="retriever",
    help="Train, evaluate and serve dense retrievers: judge -> mine -> train -> eval -> index -> serve -> push. "
    "Every command takes --config RECIPE.yaml and --set key=value; options override both.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"retriever {version('retriever')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", "-V", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Train, evaluate and serve dense retrievers."""


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command so a RetrieverError prints one line to stderr and exits with code 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RetrieverError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from None

    return wrapper


# name -> "module:function", in pipeline order (the order of `retriever --help`); each function is a typer
# command whose docstring is its --help text.
COMMANDS: dict[str, str] = {
    "judge": "retriever.judge.command:judge_command",
    "mine": "retriever.mine.command:mine_command",
    "train": "retriever.train.command:train_command",
    "eval": "retriever.eval.command:eval_command",
    "index": "retriever.index.command:index_command",
    "serve": "retriever.serve.command:serve_command",
    "push": "retriever.push_command:push_command",
    "run": "retriever.run_command:run_command",
    "convert": "retriever.mine.convert:convert_command",
}


def _register() -> None:
    for name, target in COMMANDS.items():
        module_name, function_name = target.split(":")
        command = getattr(importlib.import_module(module_name), function_name)
        app.command(name)(user_errors(command))


_register()


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())


if __name__ == "__main__":
    main()
