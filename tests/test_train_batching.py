"""The batch plan: deterministic, duplicate-free, rank slices, Rand1LH draws, source filter, positive cap."""

from __future__ import annotations

import pytest

from retriever.data.training_file import Negative, Positive, TrainingExample
from retriever.errors import InputError
from retriever.train.batching import BatchPlan, filter_sources, split_dev


def example(qid: str, positives: list[str], negatives: list[str], sources: list[str] | None = None):
    sources = sources or ["qrels"] * len(positives)
    return TrainingExample(
        query_id=qid,
        query=f"query {qid}",
        positives=[
            Positive(id=p, text=f"text {p}", source=s) for p, s in zip(positives, sources, strict=True)
        ],
        negatives=[Negative(id=n, text=f"text {n}") for n in negatives],
    )


def colliding_examples(n: int = 40) -> list[TrainingExample]:
    """Queries sharing passages: q{i} has positives d{i}, d{i+1} and the shared negative s{i % 5}."""
    return [example(f"q{i}", [f"d{i}", f"d{i + 1}"], [f"s{i % 5}", f"n{i}"]) for i in range(n)]


def ids(batches):
    return [[g.query_id for g in batch] for batch in batches]


def test_plan_is_deterministic_and_differs_across_epochs():
    a = BatchPlan(colliding_examples(), batch_size=4, seed=7)
    b = BatchPlan(colliding_examples(), batch_size=4, seed=7)
    assert ids(a.global_batches(0)) == ids(b.global_batches(0))
    assert ids(a.global_batches(0)) != ids(a.global_batches(1))
    assert ids(a.global_batches(0)) != ids(
        BatchPlan(colliding_examples(), batch_size=4, seed=8).global_batches(0)
    )


@pytest.mark.parametrize("world_size", [1, 2, 4])
def test_no_duplicate_query_or_passage_and_every_query_once(world_size):
    plan = BatchPlan(colliding_examples(), batch_size=4, seed=3)
    batches = plan.global_batches(0, world_size)
    seen = []
    for batch in batches:
        passages = [pid for group in batch for pid in group.passage_ids]
        assert len(passages) == len(set(passages)), "a passage appears twice in one batch"
        assert len({g.query_id for g in batch}) == len(batch)
        assert len(batch) % world_size == 0 and 0 < len(batch) <= 4
        seen += [g.query_id for g in batch]
    assert len(seen) == len(set(seen))
    # The shared negatives s0..s4 allow at most 5 queries per batch; batch 4 fits, so only a few
    # tail queries (fewer than world_size, plus incompatible leftovers) may skip the epoch.
    assert len(seen) >= 40 - 2 * world_size


def test_collisions_are_deferred_not_dropped():
    # Every query shares the negative "shared": at most one query per batch.
    examples = [example(f"q{i}", [f"d{i}"], ["shared"]) for i in range(6)]
    batches = BatchPlan(examples, batch_size=4, seed=0, hard_negatives=1).global_batches(0)
    assert [len(b) for b in batches] == [1] * 6
    assert sorted(q for b in ids(batches) for q in b) == sorted(e.query_id for e in examples)


def test_rank_slices_partition_the_global_batch():
    plan = BatchPlan(colliding_examples(), batch_size=4, seed=11)
    for epoch in range(2):
        global_batches = plan.global_batches(epoch, world_size=2)
        rank0 = BatchPlan(colliding_examples(), batch_size=4, seed=11).local_batches(
            epoch, rank=0, world_size=2
        )
        rank1 = BatchPlan(colliding_examples(), batch_size=4, seed=11).local_batches(
            epoch, rank=1, world_size=2
        )
        assert len(rank0) == len(rank1) == len(global_batches)
        for whole, part0, part1 in zip(global_batches, rank0, rank1, strict=True):
            assert len(part0) == len(part1) > 0
            assert ids([part0 + part1]) == ids([whole])


def test_batch_size_must_divide_by_world_size():
    with pytest.raises(InputError, match="multiple"):
        BatchPlan(colliding_examples(), batch_size=3, seed=0).global_batches(0, world_size=2)


def test_rand1lh_draws_are_reproducible_and_vary_by_epoch():
    examples = [example(f"q{i}", [f"p{i}-{j}" for j in range(4)], []) for i in range(30)]
    plan = BatchPlan(examples, batch_size=8, seed=5, positive_mode="draw_one")
    again = BatchPlan(examples, batch_size=8, seed=5, positive_mode="draw_one")

    def draws(p, epoch):
        return [p.group(i, epoch).positives[0].id for i in range(30)]

    assert all(len(plan.group(i, 0).positives) == 1 for i in range(30))
    assert draws(plan, 0) == draws(again, 0)
    assert draws(plan, 0) != draws(plan, 1)
    # Over many epochs every positive of a query gets drawn (the draw is not stuck on one).
    assert {plan.group(0, e).positives[0].id for e in range(40)} == {f"p0-{j}" for j in range(4)}
    # Known positives keep all four, so the undrawn ones are never used as negatives.
    assert set(plan.group(0, 0).known_positive_ids) == {f"p0-{j}" for j in range(4)}


def test_single_uses_the_first_positive():
    plan = BatchPlan([example("q", ["a", "b", "c"], [])], batch_size=1, seed=0, positive_mode="first")
    assert [p.id for p in plan.group(0, 3).positives] == ["a"]


def test_max_positives_caps_without_duplicating():
    examples = [example("many", [f"p{j}" for j in range(6)], ["n"]), example("few", ["x", "y"], ["m"])]
    plan = BatchPlan(examples, batch_size=2, seed=1, max_positives=4, hard_negatives=1)
    many = [p.id for p in plan.group(0, 0).positives]
    assert len(many) == 4 and len(set(many)) == 4
    assert [p.id for p in plan.group(1, 0).positives] == ["x", "y"]  # fewer than the cap: no padding copies
    assert {p.id for e in range(20) for p in plan.group(0, e).positives} == {f"p{j}" for j in range(6)}


def test_group_size_fills_with_negatives():
    examples = [example("q", ["a", "b"], [f"n{j}" for j in range(10)])]
    plan = BatchPlan(examples, batch_size=1, seed=0, group_size=8, max_positives=4)
    group = plan.group(0, 0)
    assert len(group.positives) == 2 and len(group.negatives) == 6 and len(set(group.passage_ids)) == 8


def test_source_filter_keeps_matching_positives_and_drops_empty_queries():
    examples = [
        example("both", ["h", "l"], ["n"], sources=["qrels", "llm"]),
        example("human", ["h2"], [], sources=["qrels"]),
        example("machine", ["l2"], [], sources=["llm"]),
    ]
    llm, dropped = filter_sources(examples, ["llm"])
    assert [e.query_id for e in llm] == ["both", "machine"] and dropped == 1
    assert [p.id for p in llm[0].positives] == ["l"]
    both, dropped = filter_sources(examples, ["qrels", "llm"])
    assert len(both) == 3 and dropped == 0 and [p.id for p in both[0].positives] == ["h", "l"]
    with pytest.raises(InputError, match="no query has a positive with source"):
        filter_sources(examples, ["bm25"])


def test_filtered_out_positives_stay_known():
    examples = [example("both", ["h", "l"], ["n"], sources=["qrels", "llm"])]
    kept, _ = filter_sources(examples, ["llm"])
    plan = BatchPlan(kept, batch_size=1, seed=0, known_positives={"both": ["h", "l"]})
    group = plan.group(0, 0)
    assert [p.id for p in group.positives] == ["l"] and set(group.known_positive_ids) == {"h", "l"}


def test_dev_split_is_seeded_and_disjoint():
    examples = colliding_examples(50)
    train, dev = split_dev(examples, 0.1, seed=1)
    assert len(dev) == 5 and len(train) == 45
    assert not {e.query_id for e in train} & {e.query_id for e in dev}
    assert [e.query_id for e in split_dev(examples, 0.1, seed=1)[1]] == [e.query_id for e in dev]
    assert [e.query_id for e in split_dev(examples, 0.1, seed=2)[1]] != [e.query_id for e in dev]
    assert split_dev(examples, 0.0, seed=1) == (examples, [])


def test_first_cap_keeps_the_leading_positives_every_epoch():
    """The paper's reference cap: the first max_positives in file order; Rand1LH then draws among them."""
    examples = [example("q", [f"p{j}" for j in range(6)], ["n"])]
    plan = BatchPlan(examples, batch_size=1, seed=1, max_positives=3, positive_cap="first")
    assert all([p.id for p in plan.group(0, e).positives] == ["p0", "p1", "p2"] for e in range(10))
    assert set(plan.group(0, 0).known_positive_ids) == {f"p{j}" for j in range(6)}
    draws = BatchPlan(
        examples, batch_size=1, seed=1, max_positives=3, positive_cap="first", positive_mode="draw_one"
    )
    assert {draws.group(0, e).positives[0].id for e in range(40)} == {"p0", "p1", "p2"}
