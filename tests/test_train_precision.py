"""``precision: auto``: bf16 only where the hardware computes it natively, and the run records what it used."""

from __future__ import annotations

import json

import pytest

from retriever.train import precision as precision_module
from retriever.train.precision import resolve_precision
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
