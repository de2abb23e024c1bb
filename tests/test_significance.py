"""Paired bootstrap interval and sign-flip test of retriever.eval.significance."""

import itertools

import numpy as np
import pytest

from retriever.errors import InputError
from retriever.eval.significance import paired_difference


def test_identical_systems_differ_by_nothing():
    values = {str(i): i / 10 for i in range(20)}
    result = paired_difference(values, values)
    assert (result.mean, result.low, result.high, result.p) == (0.0, 0.0, 0.0, 1.0)


def test_a_constant_gain_is_certain():
    a = {str(i): 1.0 for i in range(40)}
    b = {str(i): 0.25 for i in range(40)}
    result = paired_difference(a, b)
    assert result.mean == pytest.approx(0.75)
    assert (result.low, result.high) == pytest.approx((0.75, 0.75))
    assert result.p == 0.0  # only the all-plus or all-minus sign vector reaches |0.75|: 2 / 2**40


def test_p_value_matches_the_exact_randomization_distribution():
    diffs = [0.3, -0.1, 0.2, 0.05, 0.4]
    a = {str(i): d for i, d in enumerate(diffs)}
    b = {str(i): 0.0 for i in range(len(diffs))}
    observed = abs(np.mean(diffs))
    exact = np.mean(
        [
            abs(np.dot(signs, diffs)) / len(diffs) >= observed - 1e-12
            for signs in itertools.product((-1, 1), repeat=len(diffs))
        ]
    )
    result = paired_difference(a, b, samples=40_000, seed=3)
    assert result.p == pytest.approx(exact, abs=0.01)
    assert min(diffs) <= result.low <= result.mean <= result.high <= max(diffs)


def test_only_shared_queries_count_and_none_shared_is_an_error():
    result = paired_difference({"q1": 1.0, "q2": 0.0, "extra": 5.0}, {"q1": 0.0, "q2": 0.0})
    assert (result.mean, result.queries) == (0.5, 2)
    with pytest.raises(InputError):
        paired_difference({"q1": 1.0}, {"q2": 1.0})


def test_reproducible_from_the_seed():
    rng = np.random.default_rng(0)
    a = {str(i): float(v) for i, v in enumerate(rng.random(50))}
    b = {str(i): float(v) for i, v in enumerate(rng.random(50))}
    assert paired_difference(a, b, seed=7) == paired_difference(a, b, seed=7)
