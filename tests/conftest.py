"""Session fixtures shared by all tests: tiny models built locally, the shared benchmark data location."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from tests.tiny_models import build_bi_encoder, build_cross_encoder

# CI runs the same examples every time (a red CI is then a real regression); locally hypothesis explores.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

SHARED_DATA = Path(
    os.environ.get("RETRIEVER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


@pytest.fixture(autouse=True)
def corpus_store_per_test(tmp_path_factory, monkeypatch) -> Path:
    """Each test reads corpus files through its own empty corpus store, so that no test meets a store file
    another test's identical corpus left (which would skip that test's parsing and its warnings)."""
    from retriever.data import corpus_store

    directory = tmp_path_factory.mktemp("corpora")
    monkeypatch.setattr(corpus_store, "store_dir", lambda: directory)
    return directory


@pytest.fixture(scope="session")
def tiny_bi_encoder(tmp_path_factory) -> Path:
    """Path of a tiny sentence-transformers bi-encoder (2 layers, hidden 32, normalized embeddings)."""
    return build_bi_encoder(tmp_path_factory.mktemp("models") / "tiny-bi-encoder")


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory) -> Path:
    """Path of a tiny CrossEncoder checkpoint (2 layers, hidden 32, one output)."""
    return build_cross_encoder(tmp_path_factory.mktemp("models") / "tiny-cross-encoder")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip with a clear message when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"shared benchmark data not found at {SHARED_DATA} (clone with ../shared beside the repo)"
        )
    return SHARED_DATA
