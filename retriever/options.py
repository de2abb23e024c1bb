"""One grammar for every command: each option names the config field it sets, and the config model owns the
default that ``--help`` shows.

A command declares its options through one :class:`CommandOptions` bound to its stage's pydantic model::

    OPTIONS = CommandOptions(EvalConfig, section="eval")

    def eval_command(
        k: Annotated[int | None, OPTIONS.option("--k", help="Documents retrieved per query.")] = None,
        config: ConfigFile = None,
        set_: Overrides = None,
    ): ...
        settings = OPTIONS.build(locals(), config=config, overrides=set_)

Every option's Python default is None ("not given"), so a value from ``--config`` or ``--set`` is never hidden
by a typer default; what ``--help`` prints as ``[default: ...]`` is read from the model field (nested fields by
dotted name, e.g. ``bm25.k1``). :meth:`CommandOptions.build` then applies, in rising priority, the recipe
(``--config``), the ``--set`` overrides and the options given, and validates once
(:func:`retriever.config.config_from_sources`).
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

import typer
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from retriever.config import config_from_sources

ModelT = TypeVar("ModelT", bound=BaseModel)

ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Recipe YAML: its section for this command (e.g. `eval:`), or a flat mapping of its fields.",
        show_default=False,
    ),
]
Overrides = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a config field: key=value, dotted for nested ones (repeatable).",
        show_default=False,
    ),
]


# Flags that mean the same on every command that has them: flag -> (field below the command's prefix for
# that group, help, shown default when the field's own is None).
COMMON: dict[str, tuple[str, str, str | None]] = {
    "--judge": ("kind", "LLM judge: openai (any compatible server) or hf (local transformers).", None),
    "--judge-base-url": (
        "base_url",
        "OpenAI-compatible base URL ending in /v1, repeatable: calls are spread over the endpoints (all serving "
        "the same model) and retried on another when one fails; key from $OPENAI_API_KEY.",
        None,
    ),
    "--judge-model": (
        "model",
        "Judge model name (openai), or local path, hub name or .gguf file (hf).",
        None,
    ),
    "--judge-prompt": (
        "prompt",
        "pointwise (grade 0-3), graded (TREC assessor scale 0-3) or listwise.",
        None,
    ),
    "--judge-concurrency": ("concurrency", "Judge calls in flight at once, over all endpoints.", None),
    "--encode-batch-size": ("batch_size", "Texts per encoder forward pass.", None),
    "--max-seq-length": ("max_seq_length", "Truncate texts to this many tokens.", "the model's limit"),
    "--query-prompt": ("query_prompt", "Prefix added to every query, e.g. 'query: ' (E5).", None),
    "--document-prompt": ("document_prompt", "Prefix added to every document, e.g. 'passage: ' (E5).", None),
    "--device": ("device", "torch device.", "cuda when available"),
    "--feedback-depth": (
        "depth",
        "Dense pseudo-relevance feedback: move each query vector towards the mean of its top this many "
        "documents, then search again (Rocchio, as Pyserini's dense PRF; 0 = off).",
        None,
    ),
    "--feedback-weight": ("weight", "Weight of that mean (the query's own is 1).", None),
    "--expand-with": (
        "split",
        "Document expansion with labelled queries: append to each document the queries of this split labelled "
        "relevant to it (BM25) and move its vector towards them (dense), e.g. train; never the split searched.",
        None,
    ),
    "--expansion-weight": (
        "weight",
        "The weight each labelled query spreads over its relevant documents' vectors (a document's own is 1).",
        None,
    ),
    "--precision": (
        "precision",
        "Encoding precision: fp32 or bf16 (bf16 is faster, vectors differ slightly).",
        None,
    ),
}


class CommandOptions(Generic[ModelT]):
    """The options of one command, each mapped to a (dotted) field of ``model``."""

    def __init__(self, model: type[ModelT], section: str) -> None:
        self.model = model
        self.section = section
        self.fields: dict[str, tuple[str, ...]] = {}  # parameter name -> the dotted fields it sets

    def option(
        self,
        *flags: str,
        help: str,
        field: str | tuple[str, ...] | None = None,
        default: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """A typer option for ``field`` (default: the first flag's name; a tuple sets each of several
        fields to the value), showing the (first) field's default.

        ``default`` replaces the shown text, for fields whose default is computed (None meaning "the
        model's limit", say). The parameter name is the first flag's (``--bm25-k1`` -> ``bm25_k1``).
        """
        name = flags[0].lstrip("-").split("/")[0].replace("-", "_")
        dotted = (field,) if isinstance(field, str) else field or (name,)
        self.fields[name] = dotted
        defaults = [show_default(self.model, each) for each in dotted]  # a KeyError names a wrong field
        shown = default if default is not None else defaults[0]
        return typer.Option(*flags, help=help, show_default=shown, **kwargs)

    def common(self, flag: str, prefix: str = "") -> Any:
        """The :data:`COMMON` option ``flag`` for the field ``prefix + field`` (e.g. prefix ``encoder.``)."""
        field, help, default = COMMON[flag]
        return self.option(flag, field=prefix + field, help=help, default=default)

    def argument(self, field: str, *, help: str) -> Any:
        """A positional argument for ``field`` (optional on the command line when ``--config`` gives it)."""
        self.fields[field] = (field,)
        return typer.Argument(help=help, show_default=False)

    def given(self, values: dict[str, Any]) -> dict[str, Any]:
        """Dotted field -> value for each declared option in ``values`` (a command's ``locals()``)."""
        return {
            dotted: values[name]
            for name, fields in self.fields.items()
            if name in values
            for dotted in fields
        }

    def build(self, values: dict[str, Any], *, config: Path | None, overrides: list[str] | None) -> ModelT:
        """The validated config: recipe (``config``) <- ``--set`` overrides <- the options given."""
        return config_from_sources(
            self.model,
            recipe=config,
            section=self.section,
            overrides=list(overrides or []),
            options=self.given(values),
        )


def field_default(model: type[BaseModel], dotted: str) -> Any:
    """The default of a (dotted) field of ``model``, read through the parents' default instances where they
    have one (``JudgeRunConfig.judge`` defaults to an openai judge); ``PydanticUndefined`` when required."""
    *parents, leaf = dotted.split(".")
    instance: BaseModel | None = None
    for part in parents:
        parent = _default(model, part) if instance is None else getattr(instance, part)
        instance = parent if isinstance(parent, BaseModel) else None
        model = _model_class(model.model_fields[part].annotation)
    return _default(model, leaf) if instance is None else getattr(instance, leaf)


def _default(model: type[BaseModel], name: str) -> Any:
    field = model.model_fields[name]
    if field.default is PydanticUndefined and field.default_factory is None:
        return PydanticUndefined
    return field.get_default(call_default_factory=True)


def show_default(model: type[BaseModel], dotted: str) -> str | bool:
    """What ``--help`` shows as the field's default; False when it has none (required, None or empty)."""
    value = field_default(model, dotted)
    if value is PydanticUndefined or value is None or value == []:
        return False
    return render(value)


def render(value: Any) -> str:
    """A default as a user types it: lists comma-joined, booleans as on/off, strings quoted when blank-edged
    (so a default of one space shows as ``' '``)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list | tuple):
        return ", ".join(render(item) for item in value)
    if isinstance(value, str) and (value == "" or value != value.strip()):
        return repr(value)
    return str(value)


def _model_class(annotation: Any) -> type[BaseModel]:
    """The pydantic model inside an annotation such as ``BM25Config | None``."""
    for candidate in typing.get_args(annotation) or (annotation,):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    raise TypeError(f"{annotation!r} is not a config model")
