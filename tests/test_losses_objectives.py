"""The objectives against hand computations (float64, explicit loops over document ids), gradcheck, and the
design's gradient properties (JointLH equal shares, SumMargLH ∝ e^s, LSEPair ∝ e^-s)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from retriever.train.labels import build_masks, make_labels
from retriever.train.losses.base import masked_logsumexp
from retriever.train.losses.joint import JointLHLoss, jointlh_objective
from retriever.train.losses.lsepair import LSEPairLoss, lsepair_objective
from retriever.train.losses.single import Rand1LHLoss, SingleLoss, single_objective
from retriever.train.losses.summarg import SumMargLHLoss, summarglh_objective

LOSSES = {
    "single": SingleLoss,
    "rand1lh": Rand1LHLoss,
    "jointlh": JointLHLoss,
    "summarglh": SumMargLHLoss,
    "lsepair": LSEPairLoss,
}

# Passage 6 repeats "c" (as after a cross-process gather): only its first occurrence (column 2) counts.
PASSAGES = ["a", "b", "c", "d", "e", "f", "c"]
# q0: one positive; q1: three active positives and an inactive known one ("e": neither positive nor
# negative); q2: every passage is a known positive, so it has no negative at all.
ACTIVE = [["a"], ["b", "c", "d"], ["e", "f"]]
KNOWN = [["a"], ["b", "c", "d", "e"], ["a", "b", "c", "d", "e", "f"]]


def lse(values: list[float]) -> float:
    if not values:
        return -math.inf
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def reference_losses(
    name: str, scores: np.ndarray, normalize: bool = False, actives: list[list[str]] = ACTIVE
) -> list[float]:
    """Per-query losses computed from the document ids with plain Python loops (the design's table)."""
    losses = []
    for i, (active, known) in enumerate(zip(actives, KNOWN, strict=True)):
        seen: set[str] = set()
        positives, negatives = [], []
        for j, doc_id in enumerate(PASSAGES):
            if doc_id in seen:
                continue
            seen.add(doc_id)
            chosen = active[:1] if name in ("single", "rand1lh") else active
            if doc_id in chosen:
                positives.append(float(scores[i, j]))
            elif doc_id not in known:
                negatives.append(float(scores[i, j]))
        m = len(positives)
        if name in ("single", "rand1lh"):
            loss = -math.log(math.exp(positives[0]) / sum(math.exp(s) for s in positives + negatives))
        elif name == "jointlh":
            loss = -sum(
                math.log(math.exp(p) / sum(math.exp(s) for s in positives + negatives)) for p in positives
            )
        elif name == "summarglh":
            loss = -math.log(
                sum(math.exp(p) for p in positives) / sum(math.exp(s) for s in positives + negatives)
            )
        else:
            loss = math.log1p(sum(math.exp(n - p) for p in positives for n in negatives))
        losses.append(loss / m if normalize else loss)
    return losses


@pytest.fixture
def scores() -> np.ndarray:
    return np.random.default_rng(7).normal(scale=3.0, size=(len(ACTIVE), len(PASSAGES)))


def masks(name: str):
    labels = make_labels(PASSAGES, ACTIVE, KNOWN)
    positive_ids = labels["positive_ids"][:, :1] if name in ("single", "rand1lh") else labels["positive_ids"]
    return build_masks(labels["passage_ids"], positive_ids, labels["known_positive_ids"])


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("normalize", [False, True])
def test_module_equals_hand_computation(name, normalize, scores):
    # Dot product, scale 1, one-hot query embeddings: the module's score matrix is exactly ``scores``.
    queries = torch.eye(len(ACTIVE), dtype=torch.float64)
    passages = torch.from_numpy(scores).T.contiguous()
    loss = LOSSES[name](None, scale=1.0, similarity="dot", normalize_by_positives=normalize)
    labels = make_labels(PASSAGES, ACTIVE, KNOWN)
    got = loss.compute_loss_from_embeddings([queries, passages], labels)
    assert got.dtype == torch.float64
    assert got.item() == pytest.approx(np.mean(reference_losses(name, scores, normalize)), rel=1e-12)


@pytest.mark.parametrize("name", ["jointlh", "summarglh", "lsepair"])
def test_batch_positives_make_every_known_positive_in_the_batch_active(name, scores):
    # q1's known "e" (drawn for q2 only) turns from masked into a positive; q0 and q2 gain "a" ... "d" too.
    queries = torch.eye(len(ACTIVE), dtype=torch.float64)
    passages = torch.from_numpy(scores).T.contiguous()
    loss = LOSSES[name](None, scale=1.0, similarity="dot", batch_positives=True)
    got = loss.compute_loss_from_embeddings([queries, passages], make_labels(PASSAGES, ACTIVE, KNOWN))
    expected = np.mean(reference_losses(name, scores, actives=KNOWN))
    assert got.item() == pytest.approx(expected, rel=1e-12)
    assert expected != pytest.approx(np.mean(reference_losses(name, scores)))
    assert loss.get_config_dict()["batch_positives"] is True


@pytest.mark.parametrize("name", ["single", "rand1lh"])
def test_batch_positives_need_a_loss_with_several_positives(name):
    with pytest.raises(ValueError, match="batch_positives needs several positives"):
        LOSSES[name](None, batch_positives=True)


@pytest.mark.parametrize("name", list(LOSSES))
def test_scale_multiplies_scores(name, scores):
    queries = torch.eye(len(ACTIVE), dtype=torch.float64)
    passages = torch.from_numpy(scores).T.contiguous()
    loss = LOSSES[name](None, scale=2.5, similarity="dot")
    got = loss.compute_loss_from_embeddings([queries, passages], make_labels(PASSAGES, ACTIVE, KNOWN))
    assert got.item() == pytest.approx(np.mean(reference_losses(name, 2.5 * scores)), rel=1e-12)


@pytest.mark.parametrize(
    "objective,name",
    [
        (single_objective, "single"),
        (jointlh_objective, "jointlh"),
        (summarglh_objective, "summarglh"),
        (lsepair_objective, "lsepair"),
    ],
)
def test_objective_per_query_values_and_gradcheck(objective, name, scores):
    positive_mask, negative_mask = masks(name)
    per_query = objective(torch.from_numpy(scores), positive_mask, negative_mask)
    np.testing.assert_allclose(per_query.numpy(), reference_losses(name, scores), rtol=1e-12)
    s = torch.from_numpy(scores).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: objective(x, positive_mask, negative_mask), (s,))
    # Masked-out entries (the duplicate column, the inactive known positive) get exactly zero gradient.
    objective(s, positive_mask, negative_mask).sum().backward()
    assert torch.all(s.grad[~(positive_mask | negative_mask)] == 0)
    assert torch.isfinite(s.grad).all()


def test_row_without_negatives_is_finite_with_finite_gradient(scores):
    positive_mask, negative_mask = masks("lsepair")
    assert not negative_mask[2].any()
    s = torch.from_numpy(scores).requires_grad_()
    lsepair_objective(s, positive_mask, negative_mask)[2].backward()
    assert torch.all(s.grad == 0)  # no pair, no loss, no gradient
    s.grad = None
    summarglh_objective(s, positive_mask, negative_mask)[2].backward()
    assert torch.all(s.grad == 0)  # all mass already on the positives


@pytest.mark.filterwarnings("ignore:Anomaly Detection has been enabled")
def test_masked_logsumexp_empty_rows():
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, False, True], [False, False, False]])
    out = masked_logsumexp(x, mask)
    assert out[0].item() == pytest.approx(math.log(math.e + math.e**3))
    assert out[1].item() == -math.inf
    with torch.autograd.detect_anomaly():  # no backward node may produce a NaN, even one masked later
        torch.nn.functional.softplus(out).sum().backward()
    assert torch.isfinite(x.grad).all() and torch.all(x.grad[1] == 0) and x.grad[0, 1] == 0


@pytest.mark.parametrize("name", list(LOSSES))
def test_gradcheck_through_module_with_cosine(name):
    torch.manual_seed(0)
    queries = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    passages = torch.randn(len(PASSAGES), 5, dtype=torch.float64, requires_grad=True)
    labels = make_labels(PASSAGES, ACTIVE, KNOWN)
    loss = LOSSES[name](None, scale=3.0, similarity="cos", normalize_by_positives=True)
    assert torch.autograd.gradcheck(
        lambda q, p: loss.compute_loss_from_embeddings([q, p], labels), (queries, passages)
    )


def positive_grads(objective, positives: list[float], negatives: list[float]) -> torch.Tensor:
    s = torch.tensor([positives + negatives], dtype=torch.float64, requires_grad=True)
    m = len(positives)
    positive_mask = torch.arange(s.size(1)).unsqueeze(0) < m
    objective(s, positive_mask, ~positive_mask).sum().backward()
    return s.grad[0, :m]


def test_jointlh_pushes_positives_to_equal_shares():
    positives = [3.0, 1.0, -0.5]
    # Negatives far below (-> -inf): the gradient is m * softmax_P - 1 and sums to zero.
    grads = positive_grads(jointlh_objective, positives, [-60.0, -70.0])
    expected = 3 * torch.softmax(torch.tensor(positives, dtype=torch.float64), 0) - 1
    torch.testing.assert_close(grads, expected, rtol=1e-9, atol=1e-12)
    assert grads.sum().abs() < 1e-12
    # Gradient descent lowers the strongest positive and raises the weaker ones, towards 1/m each.
    assert grads[0] > 0 > grads[2] and grads[1] < 0
    # At equal shares the positives receive no gradient.
    assert positive_grads(jointlh_objective, [2.0, 2.0, 2.0], [-60.0]).abs().max() < 1e-12


def test_summarglh_weights_positives_by_exp_score():
    positives, negatives = [3.0, 1.0], [0.5, -1.0]
    grads = positive_grads(summarglh_objective, positives, negatives)
    all_scores = torch.tensor(positives + negatives, dtype=torch.float64)
    expected = torch.softmax(all_scores, 0)[:2] - torch.softmax(all_scores[:2], 0)
    torch.testing.assert_close(grads, expected, rtol=1e-9, atol=1e-12)
    assert (grads < 0).all()  # every positive is pushed up
    assert grads[0].abs() > grads[1].abs()  # the strong positive gets the larger update
    assert (grads[0] / grads[1]).item() == pytest.approx(math.exp(3.0 - 1.0), rel=1e-9)


def test_lsepair_weights_positives_by_exp_minus_score():
    positives, negatives = [3.0, 1.0], [0.5, -1.0]
    grads = positive_grads(lsepair_objective, positives, negatives)
    z = lse(negatives) + lse([-p for p in positives])
    weights = torch.softmax(-torch.tensor(positives, dtype=torch.float64), 0)
    torch.testing.assert_close(grads, -torch.sigmoid(torch.tensor(z, dtype=torch.float64)) * weights)
    assert (grads < 0).all()
    assert grads[1].abs() > grads[0].abs()  # the weak positive gets the larger update
    assert (grads[1] / grads[0]).item() == pytest.approx(math.exp(3.0 - 1.0), rel=1e-9)


def test_lsepair_positives_never_compete():
    # Raising one positive's score never increases the loss through another positive (unlike JointLH).
    base = lsepair_objective(
        torch.tensor([[2.0, 1.0, 0.0]], dtype=torch.float64),
        torch.tensor([[True, True, False]]),
        torch.tensor([[False, False, True]]),
    )
    raised = lsepair_objective(
        torch.tensor([[5.0, 1.0, 0.0]], dtype=torch.float64),
        torch.tensor([[True, True, False]]),
        torch.tensor([[False, False, True]]),
    )
    assert raised < base
    assert raised.item() == pytest.approx(math.log1p(math.exp(-5.0) + math.exp(-1.0)), rel=1e-12)


def test_single_objective_rejects_several_positives(scores):
    positive_mask, negative_mask = masks("jointlh")
    with pytest.raises(ValueError, match="exactly one positive"):
        single_objective(torch.from_numpy(scores), positive_mask, negative_mask)
