"""Which mixed precision a run uses: ``auto`` picks bf16 where the hardware computes it natively.

- CUDA: bf16 when ``torch.cuda.is_bf16_supported()`` (Ampere and later), else fp16.
- CPU: bf16 when the CPU has AVX-512 BF16 or AMX tiles (oneDNN then runs bf16 matrix products natively, about
  2x the fp32 throughput); fp32 otherwise, where bf16 would be emulated and slower.

The losses compute scores and objectives in float32 under any autocast (:mod:`retriever.train.losses.base`),
so only the encoder's matrix products run in bf16.
"""

from __future__ import annotations

from typing import Literal

Precision = Literal["fp32", "fp16", "bf16"]
PrecisionSetting = Literal["auto", "fp32", "fp16", "bf16"]


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
