"""``build_loss(name, model, **hparams)``: a loss by name, with hyper-parameters checked up front.

Names: ``single``, ``rand1lh``, ``jointlh``, ``summarglh``, ``lsepair``, and ``cached_<name>`` for the
GradCache variant of each (which also takes ``mini_batch_size``). Import-light: the loss modules (torch,
sentence-transformers) are imported when a loss is built.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from retriever.errors import InputError

OBJECTIVES: dict[str, str] = {
    "single": "retriever.train.losses.single:SingleLoss",
    "rand1lh": "retriever.train.losses.single:Rand1LHLoss",
    "jointlh": "retriever.train.losses.joint:JointLHLoss",
    "summarglh": "retriever.train.losses.summarg:SumMargLHLoss",
    "lsepair": "retriever.train.losses.lsepair:LSEPairLoss",
}
CACHED_PREFIX = "cached_"
LOSS_NAMES: tuple[str, ...] = (*OBJECTIVES, *(CACHED_PREFIX + name for name in OBJECTIVES))


def loss_class(name: str) -> type:
    """The loss class registered under ``name`` (InputError naming the choices when unknown)."""
    if name not in LOSS_NAMES:
        raise InputError(f"unknown loss {name!r}; choose one of {', '.join(LOSS_NAMES)}", field="loss")
    cached = name.startswith(CACHED_PREFIX)
    module_name, class_name = OBJECTIVES[name.removeprefix(CACHED_PREFIX)].split(":")
    if cached:
        module_name, class_name = "retriever.train.losses.cached", f"Cached{class_name}"
    return getattr(importlib.import_module(module_name), class_name)


def loss_hparams(name: str) -> tuple[str, ...]:
    """The keyword hyper-parameters the loss ``name`` accepts (besides the model)."""
    cls = loss_class(name)
    names: list[str] = []
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            params = list(inspect.signature(klass.__init__).parameters.values())[2:]
            names += [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return tuple(dict.fromkeys(names))


def build_loss(name: str, model: Any, **hparams: Any):
    """Instantiate the loss ``name`` for ``model``; unknown names, unknown hyper-parameters and bad values
    raise a one-line :class:`InputError` naming the field (``loss`` or ``loss.<hparam>``)."""
    cls = loss_class(name)
    allowed = loss_hparams(name)
    for key in hparams:
        if key not in allowed:
            raise InputError(
                f"loss {name!r} has no parameter {key!r}; it takes {', '.join(allowed)}", field=f"loss.{key}"
            )
    try:
        return cls(model, **hparams)
    except (TypeError, ValueError) as exc:
        field = next((f"loss.{key}" for key in hparams if key in str(exc)), "loss")
        raise InputError(f"bad parameter for loss {name!r}: {exc}", field=field) from None
