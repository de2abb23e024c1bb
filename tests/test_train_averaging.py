"""Weight averaging with the starting model (WiSE-FT): the formula, and ``base_weight`` in the trainer."""

from __future__ import annotations

import json

import pytest
import torch

from retriever.errors import InputError
from retriever.train.averaging import average_state_dicts


def test_average_is_the_convex_combination_and_keeps_integer_buffers():
    trained = {"w": torch.tensor([1.0, 3.0]), "ids": torch.tensor([0, 1])}
    base = {"w": torch.tensor([3.0, -1.0]), "ids": torch.tensor([5, 6])}
    averaged = average_state_dicts(trained, base, 0.25)
    torch.testing.assert_close(averaged["w"], 0.75 * trained["w"] + 0.25 * base["w"])
    assert averaged["ids"].tolist() == [0, 1]
    torch.testing.assert_close(average_state_dicts(trained, base, 0.0)["w"], trained["w"])
    torch.testing.assert_close(average_state_dicts(trained, base, 1.0)["w"], base["w"])


@pytest.mark.parametrize(
    ("base", "weight", "message"),
    [
        ({"v": torch.zeros(2)}, 0.5, "differ in architecture"),
        ({"w": torch.zeros(3)}, 0.5, "has shape"),
        ({"w": torch.zeros(2)}, 1.5, r"\[0, 1\]"),
    ],
)
def test_mismatched_models_and_bad_weights_are_refused(base, weight, message):
    with pytest.raises(InputError, match=message):
        average_state_dicts({"w": torch.ones(2)}, base, weight)


def test_trainer_averages_once_and_keeps_the_trained_model(tiny_bi_encoder, tmp_path):
    from sentence_transformers import SentenceTransformer

    from retriever.train.config import TrainConfig
    from retriever.train.trainer import train
    from tests.test_train_trainer import write_tiny_training_file

    data = write_tiny_training_file(tmp_path / "train.jsonl")
    config = TrainConfig(
        model=str(tiny_bi_encoder), data=data, output=tmp_path / "out", batch_size=4, lr=1e-3, base_weight=0.5
    )
    final = train(config)
    trained = SentenceTransformer(str(final / "before-averaging"), device="cpu").state_dict()
    start = SentenceTransformer(str(tiny_bi_encoder), device="cpu").state_dict()
    averaged = SentenceTransformer(str(final), device="cpu").state_dict()
    key = next(
        k for k, v in averaged.items() if v.is_floating_point() and not torch.equal(trained[k], start[k])
    )
    torch.testing.assert_close(averaged[key], 0.5 * trained[key] + 0.5 * start[key])
    assert json.loads((final / "averaged.json").read_text())["base_weight"] == 0.5
    train(config, resume=True)  # a rerun of a finished run does not average again
    torch.testing.assert_close(SentenceTransformer(str(final), device="cpu").state_dict()[key], averaged[key])
