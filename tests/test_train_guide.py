"""The false-negative guide: a batch passage the guide scores above all of a query's positives stops being that
query's negative (it joins its known positives), and nothing else changes."""

from __future__ import annotations

import torch

from retriever.data.training_file import Negative, Positive, TrainingExample
from retriever.train.batching import QueryGroup
from retriever.train.collator import GroupCollator
from retriever.train.guide import FalseNegativeGuide, unique_passages
from retriever.train.labels import build_masks

# q0 points along x. p1 / p2 are q0's positives (cosine 0.6 / 0.8), d1 scores 0.9 (above both: suspect), d2 0.7
# (between them: kept as a negative), d3 is q1's positive, orthogonal to q0.
QUERIES = {"q0": [1.0, 0.0, 0.0], "q1": [0.0, 1.0, 0.0]}
PASSAGES = {
    "p1": [0.6, 0.8, 0.0],
    "p2": [0.8, 0.0, 0.6],
    "d1": [0.9, 0.0, 0.4359],
    "d2": [0.7, 0.0, 0.7141],
    "d3": [0.0, 1.0, 0.0],
}


def guide() -> FalseNegativeGuide:
    return FalseNegativeGuide(
        list(QUERIES),
        torch.tensor(list(QUERIES.values())),
        list(PASSAGES),
        torch.tensor(list(PASSAGES.values())),
    )


def test_suspects_are_the_passages_scored_above_every_positive():
    assert guide().suspects("q0", ["p1", "p2"], list(PASSAGES)) == ["d1"]
    assert guide().suspects("q0", ["p1"], list(PASSAGES)) == ["p2", "d1", "d2"]  # p2 is not active here
    assert guide().suspects("q1", ["d3"], list(PASSAGES)) == []  # nothing beats an exact match


def group(index: int, query_id: str, positives: list[str], negatives: list[str]) -> QueryGroup:
    return QueryGroup(
        index=index,
        query_id=query_id,
        query=f"query {query_id}",
        positives=tuple(Positive(id=doc_id, text=f"text {doc_id}") for doc_id in positives),
        negatives=tuple(Negative(id=doc_id, text=f"text {doc_id}") for doc_id in negatives),
        known_positive_ids=tuple(positives),
    )


def test_the_collator_masks_the_guides_suspects_for_their_query_only(tiny_bi_encoder):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_bi_encoder), device="cpu")
    groups = [group(0, "q0", ["p1", "p2"], ["d2"]), group(1, "q1", ["d3"], ["d1"])]
    masks = {}
    masked = {}
    for name, used in (("plain", None), ("guided", guide())):
        collator = GroupCollator(model, guide=used)
        _, labels = collator(groups)
        masks[name] = build_masks(labels["passage_ids"], labels["positive_ids"], labels["known_positive_ids"])
        masked[name] = collator.guide_masked
    assert masked == {"plain": 0, "guided": 1}
    order = ["p1", "p2", "d2", "d3", "d1"]  # the collator's passage order
    d1 = order.index("d1")
    assert (
        masks["plain"][1][0, d1] and not masks["guided"][1][0, d1]
    )  # d1: q0's negative only without the guide
    assert masks["guided"][1][1, d1]  # and still q1's
    assert torch.equal(masks["plain"][0], masks["guided"][0])  # the positives are untouched
    masks["plain"][1][0, d1] = False
    assert torch.equal(masks["plain"][1], masks["guided"][1])  # and so is every other negative


def test_the_guide_embeds_every_query_and_passage_once(tiny_bi_encoder):
    from sentence_transformers import SentenceTransformer

    examples = [
        TrainingExample(
            query_id=f"q{i}",
            query=f"query {i}",
            positives=[Positive(id="shared", text="shared text"), Positive(id=f"p{i}", text=f"positive {i}")],
            negatives=[Negative(id=f"n{i}", text=f"negative {i}")],
        )
        for i in range(3)
    ]
    model = SentenceTransformer(str(tiny_bi_encoder), device="cpu")
    built = FalseNegativeGuide.encode(model, examples, lambda: torch.autocast("cpu", enabled=False))
    assert set(built.passage_row) == set(unique_passages(examples)) and len(built.passages) == 7
    assert set(built.query_row) == {"q0", "q1", "q2"}
    assert torch.allclose(built.passages.norm(dim=-1), torch.ones(7))


def test_training_with_a_guide_logs_what_it_masked(tiny_bi_encoder, tmp_path):
    from retriever.train.trainer import read_log, train
    from tests.test_train_trainer import config, write_tiny_training_file

    data = write_tiny_training_file(tmp_path / "train.jsonl")
    logs = {}
    for name, guide_model in (("guided", str(tiny_bi_encoder)), ("plain", None)):
        train(config(tiny_bi_encoder, data, tmp_path / name, epochs=1, guide_model=guide_model))
        logs[name] = [r for r in read_log(tmp_path / name) if "loss" in r]
    assert all(isinstance(r["guide_masked"], int) and r["guide_masked"] >= 0 for r in logs["guided"])
    assert logs["guided"] and not any("guide_masked" in r for r in logs["plain"])
