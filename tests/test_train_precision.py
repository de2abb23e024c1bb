"""``precision: auto``: bf16 only where the hardware computes it natively, and the run records what it used."""

from __future__ import annotations

import json

import pytest

from retriever.train import precision as precision_module
from retriever.train.precision import resolve_attention, resolve_precision, use_attention
from retriever.train.trainer import train
from tests.test_train_trainer import config, write_tiny_training_file


@pytest.mark.parametrize("setting", ["fp32", "bf16", "fp16"])
def test_explicit_precision_is_kept(setting):
    assert resolve_precision(setting) == setting


@pytest.mark.parametrize(("native", "expected"), [(True, "bf16"), (False, "fp32")])
def test_auto_on_cpu_follows_native_bf16_support(monkeypatch, native, expected):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: native)
    assert resolve_precision("auto") == expected


def test_auto_is_the_default_and_the_resolved_precision_is_recorded(monkeypatch, tiny_bi_encoder, tmp_path):
    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: False)
    out = tmp_path / "auto"
    data = write_tiny_training_file(tmp_path / "train.jsonl")
    cfg = config(tiny_bi_encoder, data, out, max_steps=1)
    assert cfg.precision == "auto"
    train(cfg)
    assert json.loads((out / "train_config.json").read_text())["precision"] == "fp32"


@pytest.mark.parametrize(
    ("setting", "precision", "on_gpu", "tokens", "expected"),
    [
        ("auto", "bf16", False, 128, "eager"),
        ("auto", "bf16", False, 64, "eager"),
        ("auto", "bf16", False, 256, None),  # SDPA is the faster kernel for longer passages
        ("auto", "bf16", False, None, None),  # the model's own limit: not known to be short
        ("auto", "fp32", False, 128, None),
        ("auto", "bf16", True, 128, None),
        ("sdpa", "bf16", False, 128, "sdpa"),
        ("eager", "fp32", True, 512, "eager"),
    ],
)
def test_attention_kernel_is_eager_only_for_short_bf16_passages_on_a_cpu(
    setting, precision, on_gpu, tokens, expected
):
    assert resolve_attention(setting, precision, on_gpu, tokens) == expected


def test_use_attention_switches_the_kernel_and_keeps_the_embeddings(tiny_bi_encoder):
    import torch

    from retriever.retrieval.models import load_bi_encoder

    model = load_bi_encoder(str(tiny_bi_encoder), device="cpu")
    texts = ["vitamin d and cancer", "a longer passage about the risk of cancer in adults who lack vitamin d"]
    with torch.no_grad():
        before = model.encode(texts, convert_to_tensor=True)
        use_attention(model, "eager")
        after = model.encode(texts, convert_to_tensor=True)
    assert model[0].auto_model.config._attn_implementation == "eager"
    assert torch.allclose(before, after, atol=1e-5)


def test_bf16_training_on_a_cpu_records_its_attention_kernel_and_saves_the_default(
    monkeypatch, tiny_bi_encoder, tmp_path
):
    import torch

    from retriever.retrieval.models import load_bi_encoder

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "bf16"
    data = write_tiny_training_file(tmp_path / "train.jsonl")
    train(config(tiny_bi_encoder, data, out, max_steps=1, precision="bf16", max_seq_length=128))
    assert json.loads((out / "train_config.json").read_text())["attention"] == "eager"
    longer = tmp_path / "bf16_256"
    train(config(tiny_bi_encoder, data, longer, max_steps=1, precision="bf16", max_seq_length=256))
    assert json.loads((longer / "train_config.json").read_text())["attention"] == "auto"  # the model's SDPA
    default = load_bi_encoder(str(tiny_bi_encoder), device="cpu")[0].auto_model.config._attn_implementation
    assert load_bi_encoder(str(out), device="cpu")[0].auto_model.config._attn_implementation == default
