"""The batch label contract: stable ids, label tensors, and the masks built from them."""

from __future__ import annotations

import pytest
import torch

from retriever.train.labels import PAD_ID, build_masks, doc_id_hash, first_occurrence, make_labels


def test_doc_id_hash_is_stable_nonnegative_int64():
    # Pinned value: ids must hash identically across processes, runs and Python versions (no ``hash()``).
    assert doc_id_hash("doc-1") == 6265767295393789249  # blake2b-64 of 'doc-1', top bit cleared
    values = [doc_id_hash(f"d{i}") for i in range(2000)]
    assert len(set(values)) == len(values)
    assert all(0 <= v < 2**63 for v in values)
    torch.tensor(values, dtype=torch.long)  # fits int64


def test_make_labels_pads_with_minus_one():
    labels = make_labels(["a", "b", "c"], [["a", "b"], ["c"]], [["a", "b"], ["c", "x", "y"]])
    assert labels["passage_ids"].tolist() == [doc_id_hash(d) for d in "abc"]
    assert labels["positive_ids"].tolist() == [
        [doc_id_hash("a"), doc_id_hash("b")],
        [doc_id_hash("c"), PAD_ID],
    ]
    assert labels["known_positive_ids"].shape == (2, 3)
    assert labels["known_positive_ids"][0, 2] == PAD_ID
    assert all(t.dtype == torch.long for t in labels.values())


@pytest.mark.parametrize(
    "active,known,message",
    [
        ([["z"]], [["z"]], "not among the batch's passages"),
        ([["a"]], [["b"]], "not among its known positives"),
        ([[]], [["a"]], "no active positive"),
        ([["a", "a"]], [["a"]], "repeats"),
        ([["a"]], [["a"], ["b"]], "queries have active positives"),
    ],
)
def test_make_labels_rejects_inconsistent_batches(active, known, message):
    with pytest.raises(ValueError, match=message):
        make_labels(["a", "b"], active, known)


def test_first_occurrence_skips_duplicates_and_padding():
    ids = torch.tensor([5, 3, 5, PAD_ID, 3, 9, PAD_ID])
    assert first_occurrence(ids).tolist() == [True, True, False, False, False, True, False]


def test_masks_follow_the_contract():
    # Passage order as after a 2-process gather: rank 0 held a,b,c; rank 1 held c (again), d, e.
    passages = ["a", "b", "c", "c", "d", "e"]
    active = [["a"], ["c", "d"], ["e"]]
    known = [["a", "b"], ["c", "d"], ["e", "a"]]
    labels = make_labels(passages, active, known)
    positive, negative = build_masks(
        labels["passage_ids"], labels["positive_ids"], labels["known_positive_ids"]
    )
    assert positive.tolist() == [
        [True, False, False, False, False, False],
        [False, False, True, False, True, False],  # the duplicate "c" (column 3) is not counted twice
        [False, False, False, False, False, True],
    ]
    assert negative.tolist() == [
        [False, False, True, False, True, True],  # b: inactive known positive, neither
        [True, True, False, False, False, True],  # another query's positives are negatives
        [False, True, True, False, True, False],  # a: known positive of q2, so not a negative
    ]
    assert not (positive & negative).any()


def test_masks_treat_active_positive_missing_from_known_as_positive_only():
    ids = torch.tensor([1, 2, 3])
    positive, negative = build_masks(ids, torch.tensor([[2]]), torch.tensor([[PAD_ID]]))
    assert positive.tolist() == [[False, True, False]] and negative.tolist() == [[True, False, True]]


def test_masks_reject_a_query_without_positive_in_the_batch():
    with pytest.raises(ValueError, match=r"queries \[1\] have no active positive"):
        build_masks(torch.tensor([1, 2]), torch.tensor([[1], [7]]), torch.tensor([[1], [7]]))
