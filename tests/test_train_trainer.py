"""The trainer on the tiny model: learns, resumes exactly, chains stages, stops on NaN, saves the model."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from retriever.data.training_file import Negative, Positive, TrainingExample, write_training_file
from retriever.errors import InputError, RetrieverError
from retriever.train.checkpoints import list_checkpoints
from retriever.train.config import TrainConfig
from retriever.train.trainer import prepare_data, read_log, train
from tests.tiny_models import WORDS

TOPICS = [WORDS[i : i + 4] for i in range(0, 64, 4)]  # 16 disjoint word sets


def tiny_examples(count: int = 16) -> list[TrainingExample]:
    """Query i is about topic i; its positives repeat the topic's words, its negatives use other topics."""
    examples = []
    for i in range(count):
        topic = TOPICS[i % len(TOPICS)]
        positives = [
            Positive(
                id=f"d{i}-{j}", text=" ".join(topic[j:] + topic[:j]), source="qrels" if j % 2 == 0 else "llm"
            )
            for j in range(1 + i % 3)
        ]
        negatives = [
            Negative(id=f"n{i}-{k}", text=" ".join(TOPICS[(i + k) % len(TOPICS)][::-1])) for k in (1, 2, 3)
        ]
        examples.append(
            TrainingExample(
                query_id=f"q{i}", query=" ".join(topic[:3]), positives=positives, negatives=negatives
            )
        )
    return examples


def write_tiny_training_file(path: Path, count: int = 16) -> Path:
    write_training_file(path, tiny_examples(count))
    return path


@pytest.fixture()
def training_file(tmp_path) -> Path:
    return write_tiny_training_file(tmp_path / "train.jsonl")


def config(model: Path, data: Path, output: Path, **overrides) -> TrainConfig:
    settings = {
        "model": str(model),
        "data": data,
        "output": output,
        "loss": "lsepair",
        "epochs": 2,
        "batch_size": 4,
        "lr": 1e-3,
        "max_positives": 2,
        "hard_negatives": 2,
        "save_steps": 2,
        "save_total_limit": 10,
        "seed": 3,
    }
    return TrainConfig(**{**settings, **overrides})


def losses(output: Path) -> list[float]:
    return [record["loss"] for record in read_log(output) if "loss" in record]


class Interrupt(Exception):
    pass


def test_training_lowers_the_loss_and_saves_a_loadable_model(tiny_bi_encoder, training_file, tmp_path):
    from sentence_transformers import SentenceTransformer

    out = tmp_path / "run"
    final = train(config(tiny_bi_encoder, training_file, out, epochs=4))
    log = read_log(out)
    steps = [r["step"] for r in log]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) == 16  # 16 queries / 4 per batch x 4 epochs
    first, last = losses(out)[:4], losses(out)[-4:]
    assert sum(last) < sum(first)
    assert all({"loss", "lr", "examples_per_s", "epoch"} <= set(r) for r in log)
    model = SentenceTransformer(str(final), device="cpu")
    embeddings = model.encode(["protein cell gene", "paris france capital"])
    assert embeddings.shape == (2, 32) and math.isfinite(float(embeddings.sum()))
    card = (final / "README.md").read_text()
    assert "LSEPairLoss" in card and "max_positives" in card
    assert json.loads((final / "training_complete.json").read_text())["steps"] == 16


def test_resume_continues_the_same_loss_curve(tiny_bi_encoder, training_file, tmp_path):
    # 12 training queries (4 held out as dev) / 4 per batch = 3 steps per epoch, dev evaluated after each.
    settings = {"dev": {"dev_fraction": 0.25}}
    whole = tmp_path / "whole"
    train(config(tiny_bi_encoder, training_file, whole, **settings))

    def stop_at_step_5(record):
        if record["step"] == 5:
            raise Interrupt

    parts = tmp_path / "parts"
    with pytest.raises(Interrupt):
        train(config(tiny_bi_encoder, training_file, parts, **settings), on_step=stop_at_step_5)
    assert [step for step, _ in list_checkpoints(parts)] == [2, 4]
    assert len(losses(parts)) == 5
    train(config(tiny_bi_encoder, training_file, parts, **settings), resume=True)
    log = read_log(parts)
    assert [r["step"] for r in log if "loss" in r] == list(range(1, 7))  # step 5 replayed once, not twice
    assert losses(parts) == pytest.approx(losses(whole), rel=1e-5, abs=1e-6)
    dev = [(r["step"], r["dev"]["nDCG@10"]) for r in log if "dev" in r]
    whole_dev = [(r["step"], r["dev"]["nDCG@10"]) for r in read_log(whole) if "dev" in r]
    assert [step for step, _ in dev] == [3, 6]  # epoch 1's evaluation is not repeated on resume
    assert [value for _, value in dev] == pytest.approx([value for _, value in whole_dev], abs=1e-6)


def test_existing_output_needs_resume(tiny_bi_encoder, training_file, tmp_path):
    out = tmp_path / "run"
    train(config(tiny_bi_encoder, training_file, out, max_steps=2))
    with pytest.raises(InputError, match="finished training run"):
        train(config(tiny_bi_encoder, training_file, out, max_steps=2))
    assert train(config(tiny_bi_encoder, training_file, out, max_steps=2), resume=True) == out

    def interrupt(record):
        raise Interrupt

    broken = tmp_path / "broken"
    with pytest.raises(Interrupt):
        train(config(tiny_bi_encoder, training_file, broken, max_steps=4), on_step=interrupt)
    with pytest.raises(InputError, match="pass --resume"):
        train(config(tiny_bi_encoder, training_file, broken, max_steps=4))


def test_resume_refuses_a_run_started_on_other_data_or_settings(tiny_bi_encoder, training_file, tmp_path):
    """A finished run is not returned as the result of another training file or objective."""
    out = tmp_path / "run"
    train(config(tiny_bi_encoder, training_file, out, max_steps=2))
    other_file = tmp_path / "other" / training_file.name
    other_file.parent.mkdir()
    shutil.copy(training_file, other_file)
    with pytest.raises(InputError, match=r"other settings \(data:"):
        train(config(tiny_bi_encoder, other_file, out, max_steps=2), resume=True)
    with pytest.raises(InputError, match=r"other settings \(loss:"):
        train(config(tiny_bi_encoder, training_file, out, max_steps=2, loss="jointlh"), resume=True)
    # where and how often it saves may change, and the attention kernel
    assert train(config(tiny_bi_encoder, training_file, out, max_steps=2, save_steps=7), resume=True) == out
    assert (
        train(config(tiny_bi_encoder, training_file, out, max_steps=2, attention="eager"), resume=True) == out
    )


def test_resume_refuses_a_run_whose_training_file_was_rewritten(tiny_bi_encoder, training_file, tmp_path):
    """Same path, same settings, other content (a second `retriever mine` into the same place): not reused."""
    out = tmp_path / "run"
    train(config(tiny_bi_encoder, training_file, out, max_steps=2))
    original = training_file.read_bytes()
    training_file.write_bytes(original)  # rewritten with the same bytes: still the same run
    assert train(config(tiny_bi_encoder, training_file, out, max_steps=2), resume=True) == out
    lines = original.decode().splitlines(keepends=True)
    training_file.write_text("".join(reversed(lines)), encoding="utf-8")
    with pytest.raises(InputError, match="earlier version of this training file"):
        train(config(tiny_bi_encoder, training_file, out, max_steps=2), resume=True)


def test_stages_chain_from_the_previous_checkpoint(tiny_bi_encoder, training_file, tmp_path):
    out = tmp_path / "chain"
    stages = [{"positive_sources": ["llm"], "epochs": 1}, {"positive_sources": ["qrels"], "epochs": 1}]
    final = train(config(tiny_bi_encoder, training_file, out, stages=stages))
    assert final == out
    first = json.loads((out / "stage-1" / "training_complete.json").read_text())
    second = json.loads((out / "training_complete.json").read_text())
    # Only queries 1, 2, 4, 5, ... (1 + i % 3 >= 2 positives) have an llm positive: 10 of 16.
    assert first["train_queries"] == 10 and first["queries_dropped_by_source_filter"] == 6
    assert second["train_queries"] == 16
    stage2_config = json.loads((out / "train_config.json").read_text())
    assert stage2_config["model"] == str(out / "stage-1")
    assert stage2_config["positive_sources"] == ["qrels"]


def test_nan_loss_stops_with_one_line(tiny_bi_encoder, training_file, tmp_path):
    with pytest.raises(RetrieverError, match=r"step 1 \(epoch 1\).*not finite") as caught:
        train(config(tiny_bi_encoder, training_file, tmp_path / "nan", scale=float("inf")))
    assert "\n" not in str(caught.value)


def test_dev_split_is_held_out_and_evaluated(tiny_bi_encoder, training_file, tmp_path):
    cfg = config(tiny_bi_encoder, training_file, tmp_path / "dev", epochs=1, dev={"dev_fraction": 0.25})
    data = prepare_data(cfg)
    assert len(data.dev) == 4 and len(data.plan) == 12
    assert not {e.query_id for e in data.dev} & {e.query_id for e in data.plan.examples}
    train(cfg)
    dev_records = [r for r in read_log(tmp_path / "dev") if "dev" in r]
    assert len(dev_records) == 1 and 0.0 <= dev_records[0]["dev"]["nDCG@10"] <= 1.0


def test_bf16_mixed_precision_trains(tiny_bi_encoder, training_file, tmp_path):
    out = tmp_path / "bf16"
    train(config(tiny_bi_encoder, training_file, out, precision="bf16", max_steps=3))
    assert len(losses(out)) == 3 and all(math.isfinite(value) for value in losses(out))


def test_two_process_ddp_run_finishes_with_one_log(tiny_bi_encoder, training_file, tmp_path):
    """torchrun (gloo, CPU): both ranks follow the same plan (no hang), rank 0 alone logs and saves."""
    import os
    import subprocess
    import sys

    out = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
        "-m", "retriever.cli", "train", "--data", str(training_file), "--model", str(tiny_bi_encoder),
        "--batch-size", "4", "--epochs", "2", "--output", str(out), "--set", "save_steps=3",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=240, env=env, cwd=Path(__file__).parents[1]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert [r["step"] for r in read_log(out)] == list(range(1, 9))  # 16 queries / 4 per global batch x 2
    assert [step for step, _ in list_checkpoints(out)] == [3, 6]
    assert (out / "training_complete.json").is_file()


def test_cached_variant_updates_the_weights(tiny_bi_encoder, training_file, tmp_path):
    """GradCache's mini-batch backward runs inside the trainer's backward: the weights move."""
    from sentence_transformers import SentenceTransformer

    out = tmp_path / "cached"
    train(
        config(tiny_bi_encoder, training_file, out, cached=True, mini_batch_size=3, max_steps=2, warmup=0.0)
    )
    assert json.loads((out / "training_complete.json").read_text())["loss"] == "cached_lsepair"
    before = SentenceTransformer(str(tiny_bi_encoder), device="cpu").state_dict()
    after = SentenceTransformer(str(out), device="cpu").state_dict()
    moved = [name for name, tensor in after.items() if not tensor.equal(before[name])]
    assert any("encoder.layer.0" in name for name in moved)


def test_batch_positives_train_on_the_positives_queries_share(tiny_bi_encoder, tmp_path):
    # Queries i and i + len(TOPICS) share a topic and, here, its positives' ids: with batch_positives, the
    # step's copy drawn for one is a positive of the other instead of masked, so the first loss changes.
    examples = [
        example.model_copy(
            update={
                "positives": [
                    p.model_copy(update={"id": p.id.split("-")[1] + p.text}) for p in example.positives
                ]
            }
        )
        for example in tiny_examples(2 * len(TOPICS))
    ]
    data = tmp_path / "shared.jsonl"
    write_training_file(data, examples)
    first_losses = {}
    for shared in (False, True):
        out = tmp_path / f"shared_{shared}"
        train(
            config(tiny_bi_encoder, data, out, max_steps=1, batch_size=len(examples), batch_positives=shared)
        )
        first_losses[shared] = losses(out)[0]
    assert first_losses[True] != pytest.approx(first_losses[False])


@pytest.mark.parametrize("where", ["config", "stage"])
def test_batch_positives_refuse_a_source_filter(where, training_file, tmp_path):
    # a filter's dropped positives stay known: batch_positives would make them active again
    sources = {"positive_sources": ["qrels"]}
    overrides = sources if where == "config" else {"stages": [sources]}
    with pytest.raises(ValueError, match="batch_positives cannot be combined with positive_sources"):
        config(tmp_path / "model", training_file, tmp_path / "out", batch_positives=True, **overrides)
