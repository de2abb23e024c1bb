"""The judge backend a :class:`~retriever.mine.config.JudgeConfig` names (shared by mine and judge)."""

from __future__ import annotations

from retriever.mine.config import JudgeConfig


def load_backend(config: JudgeConfig):
    """An :class:`~retriever.mine.judges.openai.OpenAIBackend` or :class:`~retriever.mine.judges.hf.HFBackend`
    for ``config.kind``; None for ``none``."""
    if config.kind == "openai":
        from retriever.mine.judges.openai import OpenAIBackend

        return OpenAIBackend(config)
    if config.kind == "hf":
        from retriever.mine.judges.hf import HFBackend

        return HFBackend(config)
    return None
