"""``build_loss``: every name builds its class; unknown names, parameters and bad values are InputErrors."""

from __future__ import annotations

import pytest

from retriever.errors import InputError
from retriever.train.losses.registry import LOSS_NAMES, build_loss, loss_class, loss_hparams


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_every_name_builds_its_loss(name):
    hparams = {"scale": 1.0, "similarity": "dot", "normalize_by_positives": True}
    if name.startswith("cached_"):
        hparams["mini_batch_size"] = 8
    loss = build_loss(name, None, **hparams)
    assert loss.name == name.removeprefix("cached_")
    assert type(loss).__name__.startswith("Cached") == name.startswith("cached_")
    assert loss.get_config_dict() == {**hparams, "gather_across_devices": False}
    assert "2602.12727" in loss.citation
    assert ("2101.06983" in loss.citation) == name.startswith("cached_")


def test_cached_losses_take_mini_batch_size_only():
    assert "mini_batch_size" in loss_hparams("cached_lsepair")
    assert "mini_batch_size" not in loss_hparams("lsepair")


@pytest.mark.parametrize(
    "name,hparams,field,message",
    [
        ("infonce", {}, "loss", "unknown loss 'infonce'; choose one of single, rand1lh"),
        ("lsepair", {"temperature": 0.05}, "loss.temperature", "no parameter 'temperature'"),
        ("lsepair", {"mini_batch_size": 4}, "loss.mini_batch_size", "no parameter 'mini_batch_size'"),
        ("jointlh", {"scale": 0}, "loss.scale", "scale must be > 0"),
        ("summarglh", {"similarity": "l2"}, "loss.similarity", "similarity must be one of"),
        ("cached_single", {"mini_batch_size": 0}, "loss.mini_batch_size", "positive integer"),
    ],
)
def test_bad_names_and_hparams_are_input_errors(name, hparams, field, message):
    with pytest.raises(InputError, match=message) as err:
        build_loss(name, None, **hparams)
    assert err.value.field == field
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "name, mode", [("single", "first"), ("rand1lh", "draw_one"), ("jointlh", "all"), ("lsepair", "all")]
)
def test_each_loss_says_which_positives_its_batches_hold(name, mode, tiny_bi_encoder, tmp_path):
    """The trainer plans batches from the loss class, cached variant included: rand1lh draws one positive per
    query and epoch, single keeps the first, the multi-positive objectives all (up to max_positives)."""
    from retriever.data.training_file import write_training_file
    from retriever.train.config import TrainConfig
    from retriever.train.trainer import prepare_data
    from tests.test_train_batching import example

    data = tmp_path / "train.jsonl"
    write_training_file(data, [example(f"q{i}", ["a", "b", "c"], ["n"]) for i in range(4)])
    for cached in (False, True):
        config = TrainConfig(data=data, model=str(tiny_bi_encoder), loss=name, cached=cached, batch_size=2)
        assert loss_class(("cached_" if cached else "") + name).positive_mode == mode
        batches = prepare_data(config).plan.global_batches(epoch=0)
        active = {len(group.positives) for batch in batches for group in batch}
        assert active == ({1} if mode != "all" else {3})


def test_cached_is_one_flag_not_a_second_loss_name(tmp_path):
    from retriever.train.config import TrainConfig

    with pytest.raises(ValueError, match="with cached: true"):
        TrainConfig(data=tmp_path / "t.jsonl", loss="cached_lsepair")
