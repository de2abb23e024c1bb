"""Shared configuration machinery: strict pydantic models, YAML recipes and ``key=value`` overrides.

Each stage defines its own config model (``retriever/<stage>/config.py``) on top of :class:`StrictModel`;
``retriever.recipe`` composes them into one recipe file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from retriever.errors import InputError

ModelT = TypeVar("ModelT", bound=BaseModel)


class StrictModel(BaseModel):
    """A config model that rejects unknown keys (a typo in a recipe is an error, not a silent default)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that rejects a key repeated in one mapping (plain YAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, raising :class:`InputError` (with the line) when it does not parse."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        raise InputError(f"invalid YAML: {getattr(exc, 'problem', exc)}", path=path, line=line) from None
    if data is None:
        raise InputError("the file is empty: a recipe is a YAML mapping of stage sections", path=path)
    if not isinstance(data, dict):
        raise InputError("a recipe must be a YAML mapping", path=path, line=1)
    return data


def validate(model: type[ModelT], data: dict[str, Any], *, source: str | Path | None = None) -> ModelT:
    """Validate ``data`` against ``model``, turning the first pydantic error into a one-line InputError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise InputError(first["msg"], path=source, field=field) from None


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``dotted.key=value`` overrides (values parsed as YAML when they parse) to a nested mapping, in place."""
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key:
            raise InputError(f"override {override!r} is not of the form key=value")
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InputError(f"override {override!r}: {part!r} is not a mapping", field=key)
        node[leaf] = _scalar(raw)
    return data


def _scalar(raw: str) -> Any:
    """A YAML scalar (``3``, ``true``, ``[a, b]``), or the raw string when it is not valid YAML."""
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def config_from_sources(
    model: type[ModelT],
    *,
    recipe: str | Path | None,
    section: str,
    overrides: list[str],
    options: dict[str, Any],
) -> ModelT:
    """A stage config from, in rising priority: the recipe (its ``section`` mapping, or the whole file when
    it has none), ``--set`` overrides, then the command's explicit options (dotted field -> value; None or
    an empty list means "not given"). An explicit option and a ``--set`` of the same field is an error: one of
    them would be ignored silently."""
    data: dict[str, Any] = {}
    if recipe is not None:
        data = load_yaml(recipe)
        if isinstance(data.get(section), dict):
            data = data[section]
    apply_overrides(data, overrides)
    set_keys = {override.partition("=")[0] for override in overrides}
    for field, value in options.items():
        if value is None or value == []:
            continue
        if field in set_keys:
            raise InputError(
                f"the option for {field!r} and --set {field}=... both set it; give one of them", field=field
            )
        node = data
        *parents, leaf = field.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = str(value) if isinstance(value, Path) else value
    return validate(model, data, source=recipe)
