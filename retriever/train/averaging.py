"""Weight averaging of a fine-tuned bi-encoder with the model it started from (WiSE-FT).

For every floating-point parameter and buffer ``k`` of the two models (same architecture),

    theta_k = (1 - w) * theta_k(trained) + w * theta_k(base),    0 <= w <= 1,

so ``w = 0`` is the trained model and ``w = 1`` the base model (Wortsman et al., "Robust fine-tuning of
zero-shot models", CVPR 2022). Integer buffers (e.g. position ids) are taken from the trained model. The
averaged model keeps the trained model's modules and settings (pooling, normalisation, max_seq_length).
"""

from __future__ import annotations

from pathlib import Path

from retriever.errors import InputError


def average_state_dicts(trained: dict, base: dict, base_weight: float) -> dict:
    """``(1 - base_weight) * trained + base_weight * base`` key by key (see the module docstring)."""
    if not 0.0 <= base_weight <= 1.0:
        raise InputError(f"base weight must lie in [0, 1], got {base_weight}")
    if trained.keys() != base.keys():
        missing = sorted(set(trained) ^ set(base))[:3]
        raise InputError(f"the models differ in architecture (parameters {missing} are not in both)")
    averaged = {}
    for key, value in trained.items():
        other = base[key]
        if value.shape != other.shape:
            raise InputError(f"parameter {key} has shape {tuple(value.shape)} vs {tuple(other.shape)}")
        averaged[key] = (
            value.lerp(other.to(value.dtype), base_weight) if value.is_floating_point() else value.clone()
        )
    return averaged


def average_with_base(trained: str | Path, base: str, base_weight: float, output: str | Path) -> Path:
    """Write the sentence-transformers model ``(1 - base_weight) * trained + base_weight * base`` to
    ``output`` and return it. ``base`` is a model name or path (resolved offline like every model)."""
    from retriever.retrieval.models import load_bi_encoder

    trained_model = load_bi_encoder(str(trained))
    base_model = load_bi_encoder(base)
    trained_model.load_state_dict(
        average_state_dicts(trained_model.state_dict(), base_model.state_dict(), base_weight)
    )
    trained_model.save(str(output), create_model_card=False)
    return Path(output)
