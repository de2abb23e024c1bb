"""Which mixed precision a run uses: ``auto`` picks bf16 where the hardware computes it natively.

- CUDA: bf16 when ``torch.cuda.is_bf16_supported()`` (Ampere and later), else fp16.
- CPU: bf16 when the CPU has AVX-512 BF16 or AMX tiles (oneDNN then runs bf16 matrix products natively, about
  2x the fp32 throughput); fp32 otherwise, where bf16 would be emulated and slower.

The losses compute scores and objectives in float32 under any autocast (:mod:`retriever.train.losses.base`),
so only the encoder's matrix products run in bf16.

Attention kernel while training (``attention``): ``auto`` picks transformers' ``eager`` attention (batched
matrix products and a softmax) under bf16 on a CPU for passages of at most :data:`EAGER_MAX_TOKENS` tokens, and
leaves the model's own (``sdpa``) everywhere else, longer or unset (the model's own limit) token limits included.
The kernels cross over with the length (``eval/bench_train_speed.py --settings 'defaults, no dropout' 'bf16, sdpa,
no dropout'``, ``eval/output/train_speed_kernels_{128,256}.txt``): at 128 tokens an SDPA step took 1.42x the eager
one (and 0.590 of fp32's against eager's 0.557 with dropout; ``eval/probe_step_phases.py`` put the fused SDPA
kernel's bf16 backward at a quarter of a step), at 256 tokens 0.65x. Only training changes: a saved checkpoint
loads with the model's default kernel.
"""

from __future__ import annotations

from typing import Literal

Precision = Literal["fp32", "fp16", "bf16"]
PrecisionSetting = Literal["auto", "fp32", "fp16", "bf16"]
AttentionSetting = Literal["auto", "sdpa", "eager"]


def cpu_has_native_bf16() -> bool:
    """Whether this CPU executes bf16 matrix products natively (AVX-512 BF16 or AMX)."""
    import torch

    names = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private, so looked up defensively
    checks = [getattr(torch.cpu, name, None) for name in names]
    return any(check() for check in checks if check is not None)


def resolve_precision(setting: PrecisionSetting) -> Precision:
    """The concrete precision of ``setting`` on this machine (``auto`` as in the module docstring)."""
    if setting != "auto":
        return setting
    import torch

    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_native_bf16() else "fp32"


EAGER_MAX_TOKENS = 128
"""The longest training token limit at which ``auto`` picks the eager kernel (bf16 on a CPU)."""


def resolve_attention(
    setting: AttentionSetting, precision: Precision, on_gpu: bool, max_seq_length: int | None
) -> str | None:
    """The attention kernel to train with (as in the module docstring); None keeps the model's own."""
    if setting != "auto":
        return setting
    short = max_seq_length is not None and max_seq_length <= EAGER_MAX_TOKENS
    return "eager" if precision == "bf16" and not on_gpu and short else None


def use_attention(model, implementation: str | None) -> None:
    """Switch every Hugging Face module of a sentence-transformers ``model`` to ``implementation``."""
    if implementation is None:
        return
    from transformers import PreTrainedModel

    for module in model.modules():
        if isinstance(module, PreTrainedModel):
            module.set_attn_implementation(implementation)
