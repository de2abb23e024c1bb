"""Passage-bank negatives: the loss treats bank passages as gradient-free negatives with the batch's masking
rules, the bank holds each training-file passage once and refreshes on schedule, and a resumed run scores
against the bank an uninterrupted run used."""

from __future__ import annotations

import pytest
import torch

from retriever.train.labels import make_labels
from retriever.train.losses.registry import OBJECTIVES, build_loss
from retriever.train.passage_bank import PassageBank
from retriever.train.trainer import read_log, train
from tests.test_train_trainer import Interrupt, config, losses, tiny_examples, write_tiny_training_file

DIM = 8


def embeddings(rows: int, seed: int) -> torch.Tensor:
    return torch.randn(rows, DIM, generator=torch.Generator().manual_seed(seed))


def ids_of(doc_ids: list[str]) -> torch.Tensor:
    return make_labels(doc_ids, [[doc_ids[0]]], [[doc_ids[0]]])["passage_ids"]


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_bank_passages_are_negatives_without_gradient_under_the_batch_masks(name):
    # q0's known positive x sits in the bank only: masked for q0, a negative of q1. c is in the batch and the bank:
    # it counts once, at its batch position. y is a bank-only negative of both queries.
    loss = build_loss(name, torch.nn.Identity())
    labels = make_labels(["a", "b", "c"], [["a"], ["b"]], [["a", "x"], ["b"]])
    queries = embeddings(2, 0).requires_grad_()
    batch, bank = embeddings(3, 1), embeddings(3, 2)
    bank_copy = bank.clone().requires_grad_()
    loss.negative_bank = (bank_copy, ids_of(["x", "c", "y"]))
    with_bank = loss.compute_loss_from_embeddings([queries, batch], labels)
    with_bank.backward()
    bank_grad, query_grad = bank_copy.grad, queries.grad.clone()

    loss.negative_bank = None
    queries.grad = None
    labels_as_batch = make_labels(["a", "b", "c", "x", "y"], [["a"], ["b"]], [["a", "x"], ["b"]])
    as_batch = loss.compute_loss_from_embeddings([queries, torch.cat([batch, bank[[0, 2]]])], labels_as_batch)
    as_batch.backward()
    without_bank = loss.compute_loss_from_embeddings([queries, batch], labels)

    assert bank_grad is None  # the bank is never trained through
    assert with_bank.item() == pytest.approx(as_batch.item(), rel=1e-6)
    assert torch.allclose(query_grad, queries.grad, atol=1e-6)
    assert with_bank.item() != pytest.approx(without_bank.item(), rel=1e-4)


def test_bank_holds_each_passage_once_with_the_prompt_and_refreshes_on_schedule(tiny_bi_encoder):
    from sentence_transformers import SentenceTransformer

    examples = tiny_examples(4)
    examples[1].negatives[0].id = examples[0].positives[0].id  # the same document under two queries
    bank = PassageBank.from_examples(examples, refresh=3, document_prompt="passage: ")
    unique = {p.id for e in examples for p in (*e.positives, *e.negatives)}
    assert len(bank) == len(unique) == bank.ids.unique().numel()
    assert all(text.startswith("passage: ") for text in bank.texts)
    assert bank.due(5)  # empty: encoded whatever the step
    model = SentenceTransformer(str(tiny_bi_encoder), device="cpu")
    model.train()
    bank.encode(model, _no_autocast)
    assert model.training
    vectors, ids = bank.negatives()
    assert vectors.shape == (len(bank), 32) and ids.shape == (len(bank),)
    assert [step for step in range(8) if bank.due(step)] == [0, 3, 6]


def _no_autocast():
    return torch.autocast("cpu", enabled=False)


def test_resume_scores_against_the_saved_bank(tiny_bi_encoder, tmp_path):
    # 16 queries / 4 a step = 4 steps an epoch; the bank refreshes before steps 0, 3 and 6. The run stops at step 6,
    # after the step-4 checkpoint: resumed, step 5 must score against the bank encoded before step 3.
    data = write_tiny_training_file(tmp_path / "train.jsonl")
    settings = {"passage_bank": True, "passage_bank_refresh": 3}
    whole = tmp_path / "whole"
    train(config(tiny_bi_encoder, data, whole, **settings))
    plain = tmp_path / "plain"
    train(config(tiny_bi_encoder, data, plain))

    def stop_at_step_6(record):
        if record["step"] == 6:
            raise Interrupt

    parts = tmp_path / "parts"
    with pytest.raises(Interrupt):
        train(config(tiny_bi_encoder, data, parts, **settings), on_step=stop_at_step_6)
    train(config(tiny_bi_encoder, data, parts, **settings), resume=True)
    assert losses(parts) == pytest.approx(losses(whole), rel=1e-5, abs=1e-6)
    assert losses(whole) != pytest.approx(losses(plain), rel=1e-3)  # the bank changes the objective
    refreshed = [r["step"] for r in read_log(whole) if "passage_bank_s" in r]
    assert refreshed == [1, 4, 7]  # logged with the step it preceded (1-based)
