"""Positive sets mixing human (qrels) and LLM judgements, each positive tagged with its ``source``.

Rules, per query:

* a qrels passage with grade >= ``min_qrels_grade`` is a positive (``source: qrels``);
* a judged candidate with LLM grade >= ``grade_threshold`` is a positive (``source: llm``);
* conflict (a qrels positive the LLM grades below threshold): ``qrels_wins`` keeps it, ``drop`` removes it;
* failed judgements are no grade: they neither add nor remove a positive;
* order: qrels positives first, then LLM ones, each ranked by teacher score (strongest first, ties by passage
  id descending: :mod:`retriever.retrieval.ranking`; unscored passages last); ``max_positives`` caps
  the list. Every positive, dropped conflict and capped-out positive is excluded from the negatives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from retriever.mine.config import PositivesConfig
from retriever.retrieval.ranking import ranked


@dataclass
class PositiveSet:
    """``positives``: (doc id, source) in order; ``exclude``: ids never usable as negatives."""

    positives: list[tuple[str, str]]
    exclude: set[str]
    conflicts: int = 0
    dropped: int = 0
    llm_added: int = 0


def merge_positives(
    qrels: Mapping[str, int],
    llm_grades: Mapping[str, int],
    teacher: Mapping[str, float],
    config: PositivesConfig,
) -> PositiveSet:
    """Merge one query's qrels grades and LLM grades (successful judgements only) into a positive set."""
    threshold = config.grade_threshold
    human = [doc for doc, grade in qrels.items() if grade >= config.min_qrels_grade]
    conflicts = [doc for doc in human if doc in llm_grades and llm_grades[doc] < threshold]
    dropped = set(conflicts) if config.conflict == "drop" else set()
    llm = [doc for doc, grade in llm_grades.items() if grade >= threshold and doc not in set(human)]

    def by_teacher(docs: list[str]) -> list[str]:
        return ranked({doc: teacher.get(doc, float("-inf")) for doc in docs})

    ordered = [(doc, "qrels") for doc in by_teacher([d for d in human if d not in dropped])]
    ordered += [(doc, "llm") for doc in by_teacher(llm)]
    kept = ordered[: config.max_positives] if config.max_positives else ordered
    return PositiveSet(
        positives=kept,
        exclude=set(human) | set(llm),
        conflicts=len(conflicts),
        dropped=len(dropped),
        llm_added=sum(1 for _, source in kept if source == "llm"),
    )
