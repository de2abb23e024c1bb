"""Pure selection logic of mining: ECI (definition and edge cases), hard-negative rules (range, margins,
sampling determinism, exclusions) and positive merging (sources, threshold, conflict policy)."""

from __future__ import annotations

import math

import pytest

from retriever.mine.config import NegativesConfig, PositivesConfig
from retriever.mine.eci import mean_eci, query_eci
from retriever.mine.negatives import Candidate, is_unsafe, select_negatives
from retriever.mine.positives import merge_positives


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


# ---- ECI ---------------------------------------------------------------------------------------


def test_eci_matches_its_definition():
    positive, negatives, t, m = 5.0, [4.0, 2.0, 5.5], 1.0, 1.0
    h = [min(1.0, 2 * _sigmoid((n - positive) / t)) for n in negatives]
    hardness, safety = sum(h) / 3, 2 / 3  # 4.0 and 2.0 are >= 1 below; 5.5 is above
    result = query_eci(positive, negatives, t, m)
    assert result.k == 3
    assert result.hardness == pytest.approx(hardness) and result.safety == pytest.approx(safety)
    assert result.eci == pytest.approx(math.log(4) * 2 * hardness * safety / (hardness + safety))


def test_eci_without_negatives_is_zero_and_defined():
    result = query_eci(1.0, [], 1.0, 0.5)
    assert (result.k, result.hardness, result.safety, result.eci) == (0, 0.0, 1.0, 0.0)
    assert not any(math.isnan(v) for v in result.as_dict().values())


def test_eci_ties_are_maximally_hard_and_unsafe_at_zero_margin():
    tie = query_eci(2.0, [2.0, 2.0], temperature=1.0, margin=0.0)
    assert tie.hardness == pytest.approx(1.0) and tie.safety == 0.0 and tie.eci == 0.0


def test_eci_negative_above_positive_saturates_hardness_and_is_unsafe():
    above = query_eci(0.0, [10.0], 1.0, 0.0)
    assert above.hardness == 1.0 and above.safety == 0.0 and above.eci == 0.0


def test_eci_margin_boundary_is_inclusive():
    assert query_eci(1.0, [0.5], 1.0, 0.5).safety == 1.0
    assert query_eci(1.0, [0.51], 1.0, 0.5).safety == 0.0


def test_eci_prefers_hard_safe_larger_sets():
    easy = query_eci(10.0, [0.0, 0.0, 0.0], 1.0, 1.0)
    hard = query_eci(10.0, [8.0, 8.5, 7.0], 1.0, 1.0)
    more = query_eci(10.0, [8.0, 8.5, 7.0, 8.0, 8.2, 7.5], 1.0, 1.0)
    unsafe = query_eci(10.0, [9.9, 10.5, 11.0], 1.0, 1.0)
    assert easy.eci < hard.eci < more.eci and unsafe.eci < hard.eci


def test_eci_rejects_bad_scales_and_means_over_queries():
    with pytest.raises(ValueError):
        query_eci(1.0, [0.0], 0.0, 1.0)
    a, b = query_eci(1.0, [], 1.0, 1.0), query_eci(3.0, [0.0, 1.0], 1.0, 1.0)
    mean = mean_eci([a, b])
    assert mean.k == 1.0 and mean.eci == pytest.approx(b.eci / 2) and mean.safety == pytest.approx(1.0)
    assert mean_eci([]).eci == 0.0


# ---- negatives ---------------------------------------------------------------------------------

RANKING = [Candidate(f"d{i}", "bm25", 100.0 - i, float(10 - i)) for i in range(10)]  # teacher 10, 9, ..., 1


def _ids(selection):
    return [c.id for c in selection]


def test_range_skips_top_and_caps_depth_after_removing_positives():
    config = NegativesConfig(count=3, range_min=2, range_max=6, relative_margin=None)
    selection = select_negatives("q", RANKING, 100.0, {"d0", "d3"}, config)
    # without d0, d3 the order is d1 d2 d4 d5 d6 d7 ...: ranks 2..5 are d4 d5 d6 d7
    assert _ids(selection.negatives) == ["d4", "d5", "d6"] and selection.unsafe_dropped == 0


def test_absolute_and_relative_margins_drop_false_negatives():
    absolute = NegativesConfig(count=10, absolute_margin=2.0, relative_margin=None)
    selection = select_negatives("q", RANKING, 7.0, set(), absolute)
    assert _ids(selection.negatives) == ["d5", "d6", "d7", "d8", "d9"]  # teacher 5..1: t + 2 <= 7
    assert selection.unsafe_dropped == 5 and len(selection.raw) == 10
    tie_safe = select_negatives(
        "q", RANKING, 9.0, set(), NegativesConfig(count=3, absolute_margin=0.0, relative_margin=None)
    )
    assert _ids(tie_safe.raw) == ["d0", "d1", "d2"] and _ids(tie_safe.negatives) == ["d1", "d2", "d3"]
    assert tie_safe.unsafe_dropped == 1  # only d0 (10 > 9) of the as-mined three; d1 ties and is kept
    relative = NegativesConfig(count=10, relative_margin=0.5)
    assert _ids(select_negatives("q", RANKING, 8.0, set(), relative).negatives) == ["d6", "d7", "d8", "d9"]
    negative_positive = NegativesConfig(relative_margin=0.5)  # t_p = -2: threshold -2 - 1 = -3
    assert is_unsafe(-2.5, -2.0, negative_positive) and not is_unsafe(-3.0, -2.0, negative_positive)


def test_random_sampling_is_seeded_per_query_and_keeps_rank_order():
    config = NegativesConfig(count=4, sampling="random", seed=7, relative_margin=None)
    first = _ids(select_negatives("q1", RANKING, 100.0, set(), config).negatives)
    assert first == _ids(select_negatives("q1", RANKING, 100.0, set(), config).negatives)
    assert first == sorted(first, key=lambda d: int(d[1:])) and len(set(first)) == 4
    others = {
        tuple(_ids(select_negatives(f"q{i}", RANKING, 100.0, set(), config).negatives)) for i in range(20)
    }
    reseeded = config.model_copy(update={"seed": 8})
    assert len(others) > 1  # queries draw differently
    assert any(
        _ids(select_negatives(f"q{i}", RANKING, 100.0, set(), reseeded).negatives)
        != _ids(select_negatives(f"q{i}", RANKING, 100.0, set(), config).negatives)
        for i in range(20)
    )


def test_duplicate_candidates_and_short_rankings():
    doubled = RANKING[:3] + RANKING[:3]
    selection = select_negatives("q", doubled, 100.0, set(), NegativesConfig(count=5, relative_margin=None))
    assert _ids(selection.negatives) == ["d0", "d1", "d2"]
    assert select_negatives("q", [], 1.0, set(), NegativesConfig()).negatives == []


def test_bad_range_is_rejected():
    with pytest.raises(ValueError):
        NegativesConfig(range_min=5, range_max=5)


# ---- positives ---------------------------------------------------------------------------------

TEACHER = {"a": 3.0, "b": 1.0, "c": 2.0, "d": 5.0, "e": 0.5}


def test_llm_positives_join_qrels_with_sources_and_threshold():
    merged = merge_positives({"a": 1, "e": 0}, {"c": 2, "d": 3, "b": 1}, TEACHER, PositivesConfig())
    assert merged.positives == [("a", "qrels"), ("d", "llm"), ("c", "llm")]
    assert merged.exclude == {"a", "c", "d"} and merged.llm_added == 2 and merged.conflicts == 0


def test_conflict_policy():
    qrels, llm = {"a": 1, "b": 2}, {"a": 0, "b": 3, "c": 2}
    kept = merge_positives(qrels, llm, TEACHER, PositivesConfig(conflict="qrels_wins"))
    assert kept.positives == [("a", "qrels"), ("b", "qrels"), ("c", "llm")] and kept.conflicts == 1
    dropped = merge_positives(qrels, llm, TEACHER, PositivesConfig(conflict="drop"))
    assert dropped.positives == [("b", "qrels"), ("c", "llm")] and dropped.dropped == 1
    assert "a" in dropped.exclude  # a disputed passage is not a safe negative either
    nothing = merge_positives({"a": 1}, {"a": 1}, TEACHER, PositivesConfig(conflict="drop"))
    assert nothing.positives == []


def test_positives_with_tied_teacher_scores_follow_the_one_rank_order():
    teacher = {"p1": 1.0, "p2": 1.0, "p10": 1.0, "x": 2.0}
    merged = merge_positives(
        dict.fromkeys(["p1", "unscored", "p10", "x", "p2"], 1), {}, teacher, PositivesConfig()
    )
    assert [doc for doc, _ in merged.positives] == ["x", "p2", "p10", "p1", "unscored"]


def test_threshold_and_cap():
    merged = merge_positives({}, {"c": 2, "d": 3, "b": 1}, TEACHER, PositivesConfig(grade_threshold=3))
    assert merged.positives == [("d", "llm")]
    capped = merge_positives({"a": 1, "b": 1}, {"d": 3}, TEACHER, PositivesConfig(max_positives=2))
    assert capped.positives == [("a", "qrels"), ("b", "qrels")] and "d" in capped.exclude
