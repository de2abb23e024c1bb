"""Resumable checkpoints: ``OUTPUT/checkpoints/checkpoint-<step>/``.

A checkpoint is a sentence-transformers model directory (loadable by ``SentenceTransformer(path)``) plus
``trainer_state.pt`` with the optimizer, scheduler and fp16 grad-scaler states and the completed step count.
It is written to a temporary directory and renamed into place, so a crash never leaves a half checkpoint that
``--resume`` would pick; only the newest ``keep`` checkpoints are kept.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from retriever.files import replace_directory

STATE_FILE = "trainer_state.pt"
_NAME = re.compile(r"^checkpoint-(\d+)$")


def checkpoint_dir(output: Path) -> Path:
    return Path(output) / "checkpoints"


def list_checkpoints(output: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under ``output`` as ``(step, path)``, oldest first."""
    root = checkpoint_dir(output)
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        match = _NAME.match(path.name)
        if match and (path / STATE_FILE).is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def latest_checkpoint(output: Path) -> Path | None:
    """The newest complete checkpoint under ``output``, or None."""
    checkpoints = list_checkpoints(output)
    return checkpoints[-1][1] if checkpoints else None


def save_checkpoint(output: Path, step: int, model: Any, state: dict[str, Any], keep: int) -> Path:
    """Save ``model`` (sentence-transformers format) and ``state`` as checkpoint ``step``; keep ``keep``."""
    import torch

    root = checkpoint_dir(output)
    final = root / f"checkpoint-{step}"
    tmp = root / f".tmp-checkpoint-{step}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save(str(tmp), create_model_card=False)
    torch.save({**state, "step": step}, tmp / STATE_FILE)
    replace_directory(tmp, final)
    for _, old in list_checkpoints(output)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_state(checkpoint: Path) -> dict[str, Any]:
    """The trainer state saved with a checkpoint (``step``, optimizer, scheduler, scaler)."""
    import torch

    return torch.load(Path(checkpoint) / STATE_FILE, map_location="cpu", weights_only=False)
