"""Dropout while training: the model's own rates, or rates set per kind (0 skips that dropout entirely).

Two kinds, found by where a ``torch.nn.Dropout`` sits in the encoder:

- attention dropout: the dropout of a module whose class name ends in ``Attention`` (BERT-family
  ``*SelfAttention``, DistilBERT's ``MultiHeadSelfAttention``): it drops attention probabilities, and
  transformers' eager and SDPA kernels both read its ``p``;
- hidden dropout: every other dropout (embeddings, attention output, feed-forward output).

On a CPU the masks are a large part of a MiniLM step: the attention one alone is batch x heads x length x
length draws (25M for 128 passages of 128 tokens, six times a forward), so skipping it is the cheap win that
``eval/bench_train_speed.py`` measures. Eval and saved checkpoints are untouched (dropout is inactive there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retriever.errors import InputError

if TYPE_CHECKING:
    from torch import nn


def dropouts(model: nn.Module) -> dict[str, list[nn.Module]]:
    """The model's ``torch.nn.Dropout`` modules by kind: ``{"attention": [...], "hidden": [...]}``."""
    import torch

    kinds: dict[str, list[nn.Module]] = {"attention": [], "hidden": []}
    for parent in model.modules():
        for child in parent.children():
            if isinstance(child, torch.nn.Dropout):
                kind = "attention" if type(parent).__name__.endswith("Attention") else "hidden"
                kinds[kind].append(child)
    return kinds


def set_dropout(model: nn.Module, attention: float | None, hidden: float | None) -> None:
    """Set the rate of every dropout of each kind whose rate is given (None keeps the model's)."""
    rates = {"attention": attention, "hidden": hidden}
    for kind, modules in dropouts(model).items():
        if rates[kind] is None:
            continue
        if not modules:
            raise InputError(f"the model has no {kind} dropout to set", field=f"{kind}_dropout")
        for module in modules:
            module.p = rates[kind]
