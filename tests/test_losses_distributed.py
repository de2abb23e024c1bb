"""Two CPU processes with ``gather_across_devices=True`` give the loss and gradients of one process on the
whole batch, for every registered loss (plain and cached)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from retriever.train.losses.registry import LOSS_NAMES, build_loss
from tests.losses_ddp_worker import GROUPS, loss_and_grads, make_batch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def two_process_results(tiny_bi_encoder, tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp") / "results.pt"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    command += [str(ROOT / "tests" / "losses_ddp_worker.py"), str(tiny_bi_encoder), str(out)]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return torch.load(out)


@pytest.fixture(scope="module")
def model(tiny_bi_encoder):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_bi_encoder), device="cpu")
    model.eval()
    return model


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_two_processes_match_one_process_on_the_whole_batch(name, two_process_results, model):
    features, labels = make_batch(model, GROUPS)
    hparams = {"mini_batch_size": 2} if name.startswith("cached_") else {}
    loss, grads = loss_and_grads(build_loss(name, model, **hparams), model, features, labels)
    result = two_process_results[name]
    assert result["loss"] == pytest.approx(loss.item(), abs=1e-5)
    assert result["grad_norm"] == pytest.approx(grads.norm().item(), rel=1e-4)
    torch.testing.assert_close(result["grads"], grads, rtol=1e-5, atol=1e-5)


def test_without_gathering_each_process_sees_only_its_passages(two_process_results, model):
    # The check above is not vacuous: the local-only loss on half the batch differs from the global one.
    halves = [build_loss("lsepair", model)(*make_batch(model, GROUPS[i : i + 2])).item() for i in (0, 2)]
    assert abs(sum(halves) / 2 - two_process_results["lsepair"]["loss"]) > 1e-3
