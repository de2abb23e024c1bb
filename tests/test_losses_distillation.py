"""Distillation: the KL term equals its formula, vanishes when the student agrees with the teacher, pulls the
student toward the teacher's order, ignores other queries' and duplicate passages, and reaches the trainer."""

from __future__ import annotations

import math

import pytest
import torch

from retriever.data.training_file import write_training_file
from retriever.errors import InputError
from retriever.train.labels import make_labels
from retriever.train.losses.distillation import distillation_kl, teacher_matrix
from retriever.train.losses.registry import OBJECTIVES, build_loss

IDS = ["a", "b", "c", "d", "e"]
ACTIVE = [["a", "b"], ["d"]]
KNOWN = [["a", "b"], ["d"]]
TEACHER = [{"a": 0.9, "b": 0.5, "c": 0.1}, {"d": 0.7, "e": 0.2}]


def kl_by_hand(student: list[float], teacher: list[float], temperature: float) -> float:
    p_t = [math.exp(t / temperature) for t in teacher]
    p_s = [math.exp(s) for s in student]
    p_t = [p / sum(p_t) for p in p_t]
    p_s = [p / sum(p_s) for p in p_s]
    return sum(t * (math.log(t) - math.log(s)) for t, s in zip(p_t, p_s, strict=True))


def test_teacher_matrix_places_each_query_scores_on_its_own_passages():
    labels = make_labels(IDS, ACTIVE, KNOWN, TEACHER)
    values, scored = teacher_matrix(labels["passage_ids"], labels["teacher_ids"], labels["teacher_scores"])
    assert scored.tolist() == [[True, True, True, False, False], [False, False, False, True, True]]
    torch.testing.assert_close(values[0, :3], torch.tensor([0.9, 0.5, 0.1]))
    torch.testing.assert_close(values[1, 3:], torch.tensor([0.7, 0.2]))


def test_a_passage_seen_twice_counts_once():
    # "a" arrives twice (as from two processes); only its first column is scored.
    labels = make_labels(["a", "b"], [["a"]], [["a"]], [{"a": 1.0, "b": 0.0}])
    ids = torch.cat([labels["passage_ids"], labels["passage_ids"][:1]])
    _, scored = teacher_matrix(ids, labels["teacher_ids"], labels["teacher_scores"])
    assert scored.tolist() == [[True, True, False]]


def test_kl_equals_its_formula_and_is_zero_for_one_or_no_scored_passage():
    scores = torch.tensor(
        [[2.0, 1.0, -1.0, 5.0], [0.3, 0.0, 9.0, 1.0], [1.0, 2.0, 3.0, 4.0]], dtype=torch.float64
    )
    teacher = torch.tensor([[0.9, 0.5, 0.1, 0.0], [0.0, 0.0, 0.0, 0.4], [0.0] * 4], dtype=torch.float64)
    scored = torch.tensor([[True, True, True, False], [False, False, False, True], [False] * 4])
    kl = distillation_kl(scores, teacher, scored, temperature=0.25)
    assert kl[0].item() == pytest.approx(kl_by_hand([2.0, 1.0, -1.0], [0.9, 0.5, 0.1], 0.25), rel=1e-12)
    assert kl[1:].tolist() == [0.0, 0.0]


def test_kl_vanishes_when_the_student_matches_and_its_gradient_points_to_the_teacher():
    teacher = torch.tensor([[0.9, 0.5, 0.1]], dtype=torch.float64)
    scored = torch.ones(1, 3, dtype=torch.bool)
    matching = teacher / 0.1 + 3.0  # same softmax: a constant shift does not matter
    assert distillation_kl(matching, teacher, scored, 0.1).item() == pytest.approx(0.0, abs=1e-12)
    reversed_order = torch.tensor([[1.0, 5.0, 9.0]], dtype=torch.float64, requires_grad=True)
    distillation_kl(reversed_order, teacher, scored, 0.1).backward()
    grad = reversed_order.grad[0]
    assert grad[0] < 0 < grad[2]  # descent raises the teacher's favourite, lowers its least liked
    assert grad.sum().item() == pytest.approx(0.0, abs=1e-12)  # p_s - p_t sums to 0


def test_empty_rows_give_finite_gradients():
    scores = torch.randn(2, 3, requires_grad=True)
    scored = torch.tensor([[False] * 3, [True, False, True]])
    distillation_kl(scores, torch.rand(2, 3), scored, 1.0).sum().backward()
    assert torch.isfinite(scores.grad).all() and scores.grad[0].abs().sum() == 0


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_loss_adds_weight_times_kl_to_every_objective(name):
    torch.manual_seed(0)
    queries, passages = torch.randn(2, 8, dtype=torch.float64), torch.randn(5, 8, dtype=torch.float64)
    labels = make_labels(IDS, ACTIVE, KNOWN, TEACHER)
    plain = build_loss(name, None).compute_loss_from_embeddings([queries, passages], labels)
    distilled = build_loss(name, None, distill_weight=0.5, teacher_temperature=0.2)
    assert distilled.get_config_dict()["distill_weight"] == 0.5
    value = distilled.compute_loss_from_embeddings([queries, passages], labels)
    scores = (
        torch.nn.functional.normalize(queries, dim=-1) @ torch.nn.functional.normalize(passages, dim=-1).T
    )
    scores = scores * 20.0
    by_hand = [
        kl_by_hand(scores[0, :3].tolist(), [0.9, 0.5, 0.1], 0.2),
        kl_by_hand(scores[1, 3:].tolist(), [0.7, 0.2], 0.2),
    ]
    assert value.item() == pytest.approx(plain.item() + 0.5 * sum(by_hand) / 2, rel=1e-6)  # float32 teacher


def test_distillation_needs_teacher_labels_and_valid_settings():
    loss = build_loss("summarglh", None, distill_weight=1.0)
    with pytest.raises(ValueError, match="needs the labels' .*teacher_ids"):
        loss.compute_loss_from_embeddings(
            [torch.randn(2, 4), torch.randn(5, 4)], make_labels(IDS, ACTIVE, KNOWN)
        )
    with pytest.raises(InputError, match="teacher_temperature"):
        build_loss("summarglh", None, teacher_temperature=0.0)
    with pytest.raises(ValueError, match="not among the batch's passages"):
        make_labels(IDS, ACTIVE, KNOWN, [{"z": 1.0}, {}])
    with pytest.raises(ValueError, match="not finite"):
        make_labels(IDS, ACTIVE, KNOWN, [{"a": float("nan")}, {}])


def test_trainer_refuses_distillation_from_a_file_without_teacher_scores(tiny_bi_encoder, tmp_path):
    from retriever.train.trainer import prepare_data
    from tests.test_train_trainer import config, tiny_examples

    data = tmp_path / "train.jsonl"
    write_training_file(data, tiny_examples())
    with pytest.raises(InputError, match="no passage has a teacher_score") as caught:
        prepare_data(config(tiny_bi_encoder, data, tmp_path / "out", distill_weight=1.0))
    assert str(caught.value.path) == str(data)


def test_trainer_distils_the_files_teacher_scores(tiny_bi_encoder, tmp_path):
    # The teacher ranks each query's passages in file order; with distillation the trained model's
    # scores follow that order more closely than without it.
    from sentence_transformers import SentenceTransformer

    from retriever.train.trainer import train
    from tests.test_train_trainer import config, tiny_examples

    examples = []
    for example in tiny_examples():
        passages = (*example.positives, *example.negatives)
        scored = [
            p.model_copy(update={"teacher_score": 1.0 - k / len(passages)}) for k, p in enumerate(passages)
        ]
        examples.append(
            example.model_copy(
                update={
                    "positives": scored[: len(example.positives)],
                    "negatives": scored[len(example.positives) :],
                }
            )
        )
    data = tmp_path / "train.jsonl"
    write_training_file(data, examples)

    def teacher_agreement(weight: float) -> float:
        final = train(
            config(
                tiny_bi_encoder,
                data,
                tmp_path / f"w{weight}",
                epochs=6,
                distill_weight=weight,
                teacher_temperature=0.1,
            )
        )
        model = SentenceTransformer(str(final), device="cpu")
        total = 0.0
        for example in examples:
            passages = (*example.positives, *example.negatives)
            q = model.encode([example.query], normalize_embeddings=True)
            d = model.encode([p.text for p in passages], normalize_embeddings=True)
            student = torch.tensor(q @ d.T)[0] * 20.0
            teacher = torch.tensor([p.teacher_score for p in passages])
            total += distillation_kl(
                student[None], teacher[None], torch.ones(1, len(passages), dtype=torch.bool), 0.1
            ).item()
        return total / len(examples)

    assert teacher_agreement(2.0) < teacher_agreement(0.0)
