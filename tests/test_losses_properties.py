"""Properties of the objectives on random score matrices and masks (hypothesis): invariances, bounds, and
agreement of all objectives when each query has a single positive."""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from retriever.train.losses.joint import jointlh_objective
from retriever.train.losses.lsepair import lsepair_objective
from retriever.train.losses.single import single_objective
from retriever.train.losses.summarg import summarglh_objective

MULTI = {"jointlh": jointlh_objective, "summarglh": summarglh_objective, "lsepair": lsepair_objective}


@st.composite
def batches(draw, max_positives: int = 4):
    """``(scores [B, N] float64, positive_mask, negative_mask)``: >= 1 positive per row, disjoint masks."""
    rows, cols = draw(st.integers(1, 4)), draw(st.integers(2, 9))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scores = torch.from_numpy(rng.normal(scale=draw(st.floats(0.1, 10.0)), size=(rows, cols)))
    positive = torch.zeros(rows, cols, dtype=torch.bool)
    for i in range(rows):
        positive[
            i, rng.choice(cols, size=int(rng.integers(1, min(max_positives, cols) + 1)), replace=False)
        ] = True
    negative = torch.from_numpy(rng.random((rows, cols)) < 0.7) & ~positive
    return scores, positive, negative


@settings(max_examples=60, deadline=None)
@given(batches(), st.floats(-50, 50))
def test_row_shift_and_column_permutation_invariance(batch, shift):
    scores, positive, negative = batch
    perm = torch.randperm(scores.size(1), generator=torch.Generator().manual_seed(0))
    for objective in MULTI.values():
        base = objective(scores, positive, negative)
        torch.testing.assert_close(objective(scores + shift, positive, negative), base, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(
            objective(scores[:, perm], positive[:, perm], negative[:, perm]), base, rtol=1e-12, atol=1e-12
        )


@settings(max_examples=60, deadline=None)
@given(batches())
def test_bounds_between_objectives(batch):
    scores, positive, negative = batch
    m = positive.sum(-1).double()
    joint = jointlh_objective(scores, positive, negative)
    summarg = summarglh_objective(scores, positive, negative)
    lsepair = lsepair_objective(scores, positive, negative)
    tol = 1e-9 * (1 + float(scores.abs().max()))  # float64 rounding grows with the score magnitude
    assert (summarg >= -tol).all() and (lsepair >= -tol).all()
    # The positives' shares sum to <= 1, so their product is <= (1/m)^m (AM-GM): JointLH >= m log m.
    assert (joint >= m * torch.log(m) - tol).all()
    # LSE_P >= mean_P + log m (Jensen), so SumMargLH <= JointLH / m - log m.
    assert (summarg <= joint / m - torch.log(m) + tol).all()
    # SumMargLH <= InfoNCE of any one positive p over P ∪ N (LSE_P >= s_p); LSEPair >= InfoNCE of any
    # one positive p over {p} ∪ N (one term of its double sum).
    for i in range(scores.size(0)):
        others = negative[i]
        for j in positive[i].nonzero().flatten().tolist():
            one = torch.zeros_like(positive[i])
            one[j] = True
            single = single_objective(scores[i : i + 1], one[None], (others | positive[i]) & ~one)
            assert summarg[i] <= single[0] + tol
            weakest = single_objective(scores[i : i + 1], one[None], others[None])
            assert lsepair[i] >= weakest[0] - tol


@settings(max_examples=60, deadline=None)
@given(batches(max_positives=1))
def test_all_objectives_agree_with_one_positive(batch):
    scores, positive, negative = batch
    single = single_objective(scores, positive, negative)
    for objective in MULTI.values():
        torch.testing.assert_close(objective(scores, positive, negative), single, rtol=1e-10, atol=1e-10)
    expected = [
        math.log1p(sum(math.exp(scores[i, n] - scores[i, positive[i]].item()) for n in negative[i].nonzero()))
        for i in range(scores.size(0))
    ]
    np.testing.assert_allclose(single.numpy(), expected, rtol=1e-10, atol=1e-12)
