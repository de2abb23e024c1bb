"""Dropout while training: each kind set apart, a model without that kind refused, the trainer applying it."""

from __future__ import annotations

import json

import pytest
import torch

from retriever.errors import InputError
from retriever.retrieval.models import load_bi_encoder
from retriever.train.dropout import dropouts, set_dropout
from retriever.train.trainer import train
from tests.test_train_trainer import config, write_tiny_training_file


def rates(model) -> dict[str, set[float]]:
    return {kind: {m.p for m in modules} for kind, modules in dropouts(model).items()}


def test_attention_and_hidden_dropout_are_found_and_set_apart(tiny_bi_encoder):
    model = load_bi_encoder(str(tiny_bi_encoder), device="cpu")
    layers = model[0].auto_model.config.num_hidden_layers
    kinds = dropouts(model)
    assert len(kinds["attention"]) == layers  # one per self-attention block
    assert len(kinds["hidden"]) == 2 * layers + 1  # attention output and feed-forward per layer, embeddings
    set_dropout(model, attention=0.0, hidden=None)
    assert rates(model) == {"attention": {0.0}, "hidden": {0.1}}
    set_dropout(model, attention=None, hidden=0.25)
    assert rates(model) == {"attention": {0.0}, "hidden": {0.25}}


def test_without_dropout_a_training_forward_is_deterministic(tiny_bi_encoder):
    model = load_bi_encoder(str(tiny_bi_encoder), device="cpu").train()
    features = model.preprocess(["vitamin d and the risk of cancer in adults"] * 2)

    def embed():
        return model(dict(features))["sentence_embedding"]

    assert not torch.equal(embed(), embed())  # the model's dropout is active
    set_dropout(model, attention=0.0, hidden=0.0)
    assert torch.equal(embed(), embed())


def test_a_model_without_attention_dropout_is_refused():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1))
    with pytest.raises(InputError, match="no attention dropout"):
        set_dropout(model, attention=0.0, hidden=None)


def test_the_trainer_applies_the_configured_dropout(monkeypatch, tiny_bi_encoder, tmp_path):
    import retriever.train.trainer as trainer

    seen = {}
    original = trainer.set_dropout

    def spy(model, attention, hidden):
        original(model, attention, hidden)
        seen.update(rates(model))

    monkeypatch.setattr(trainer, "set_dropout", spy)
    out = tmp_path / "run"
    data = write_tiny_training_file(tmp_path / "train.jsonl")
    train(config(tiny_bi_encoder, data, out, max_steps=1, attention_dropout=0.0))
    assert seen == {"attention": {0.0}, "hidden": {0.1}}
    assert json.loads((out / "train_config.json").read_text())["attention_dropout"] == 0.0
