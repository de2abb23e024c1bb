"""The loss modules on the tiny bi-encoder: GradCache equals the plain loss, single equals
sentence-transformers' MultipleNegativesRankingLoss, float32 under autocast, non-finite losses raise."""

from __future__ import annotations

import math

import pytest
import torch

from retriever.train.labels import make_labels
from retriever.train.losses.base import NonFiniteLossError
from retriever.train.losses.registry import OBJECTIVES, build_loss
from retriever.train.losses.single import SingleLoss

QUERIES = ["protein cell gene", "cancer patients study", "paris france capital", "river mountain city"]
TEXTS = {
    "p1": "protein expression in the cell",
    "p2": "gene expression increase",
    "p3": "cancer treatment trial patients",
    "p4": "tumor risk study in patients",
    "p5": "paris is the capital of france",
    "p6": "the river in the city",
    "p7": "mountain population water",
    "n1": "berlin germany",
    "n2": "virus vaccine infection response",
    "n3": "brain heart lung liver kidney",
}
ACTIVE = [["p1", "p2"], ["p3", "p4"], ["p5"], ["p6", "p7"]]
KNOWN = [["p1", "p2", "n2"], ["p3", "p4"], ["p5", "n1"], ["p6", "p7"]]


@pytest.fixture(scope="module")
def model(tiny_bi_encoder):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_bi_encoder), device="cpu")
    model.eval()  # dropout off: the cached second forward must reproduce the first exactly
    return model


def batch(model, active=ACTIVE, known=KNOWN):
    ids = list(TEXTS)
    features = [model.preprocess(QUERIES), model.preprocess([TEXTS[i] for i in ids])]
    return features, make_labels(ids, active, known)


def loss_and_grads(loss, model, features, labels):
    model.zero_grad()
    value = loss(features, labels)
    value.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return value.detach(), grads


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_cached_equals_uncached(name, model):
    features, labels = batch(model)
    hparams = {"normalize_by_positives": name == "jointlh"}
    plain_loss, plain_grads = loss_and_grads(build_loss(name, model, **hparams), model, features, labels)
    cached = build_loss(f"cached_{name}", model, mini_batch_size=3, **hparams)
    cached_loss, cached_grads = loss_and_grads(cached, model, features, labels)
    assert plain_loss.item() > 0
    torch.testing.assert_close(cached_loss, plain_loss, rtol=0, atol=1e-5)
    assert cached_grads.keys() == plain_grads.keys() and len(plain_grads) > 10
    for key, grad in plain_grads.items():
        assert grad.abs().max() > 0 or key.endswith("bias")
        torch.testing.assert_close(cached_grads[key], grad, rtol=0, atol=1e-5, msg=key)
    with torch.no_grad():  # evaluation: no cache, same value
        torch.testing.assert_close(cached(features, labels), plain_loss, rtol=0, atol=1e-5)


def test_single_equals_sentence_transformers_mnrl(model):
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    # One positive per query, no hard negatives: InfoNCE with in-batch negatives, as in sentence-transformers.
    positives = ["p1", "p3", "p5", "p6"]
    features = [model.preprocess(QUERIES), model.preprocess([TEXTS[p] for p in positives])]
    labels = make_labels(positives, [[p] for p in positives], [[p] for p in positives])
    ours, our_grads = loss_and_grads(SingleLoss(model, scale=20.0, similarity="cos"), model, features, labels)
    theirs, their_grads = loss_and_grads(
        MultipleNegativesRankingLoss(model, scale=20.0), model, features, None
    )
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
    for key, grad in their_grads.items():
        torch.testing.assert_close(our_grads[key], grad, rtol=1e-5, atol=1e-6, msg=key)


def test_single_uses_only_the_first_active_positive():
    # q0's second active positive (column 1) scores highest; single ignores it (neither pos nor neg).
    labels = make_labels(["a", "b", "c"], [["a", "b"]], [["a", "b"]])
    passages = torch.tensor([[1.0], [9.0], [2.0]], dtype=torch.float64)
    loss = SingleLoss(None, scale=1.0, similarity="dot")
    value = loss.compute_loss_from_embeddings([torch.ones(1, 1, dtype=torch.float64), passages], labels)
    assert value.item() == pytest.approx(math.log(math.exp(1.0) + math.exp(2.0)) - 1.0, rel=1e-12)


def test_scores_are_float32_under_autocast():
    torch.manual_seed(0)
    queries = torch.randn(4, 16).to(torch.bfloat16)
    passages = torch.randn(10, 16).to(torch.bfloat16)
    active = [["p1", "p2"], ["p3", "p4"], ["p5"], ["p6", "p7"]]
    labels = make_labels(list(TEXTS), active, KNOWN)
    loss = build_loss("lsepair", None)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = loss.compute_loss_from_embeddings([queries, passages], labels)
    reference = loss.compute_loss_from_embeddings([queries.float(), passages.float()], labels)
    assert under_autocast.dtype == torch.float32
    assert under_autocast.item() == reference.item()  # bf16 inputs upcast before the matmul, not after


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_non_finite_loss_raises_with_context(name):
    queries = torch.randn(4, 8)
    queries[2, 0] = float("nan")
    loss = build_loss(name, None)
    with pytest.raises(
        NonFiniteLossError, match=rf"{name} loss is not finite for 1/4 queries \(rows \[2\]\)"
    ) as err:
        loss.compute_loss_from_embeddings(
            [queries, torch.randn(10, 8)], make_labels(list(TEXTS), ACTIVE, KNOWN)
        )
    assert "\n" not in str(err.value)


def test_labels_must_follow_the_contract():
    loss = build_loss("jointlh", None)
    with pytest.raises(ValueError, match="labels must be a dict"):
        loss.compute_loss_from_embeddings([torch.randn(2, 4), torch.randn(3, 4)], torch.tensor([0, 1]))
