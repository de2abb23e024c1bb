"""``build_loss``: every name builds its class; unknown names, parameters and bad values are InputErrors."""

from __future__ import annotations

import pytest

from retriever.errors import InputError
from retriever.train.losses.registry import LOSS_NAMES, build_loss, loss_hparams


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
