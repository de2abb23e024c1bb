"""What the dev-split tuning scripts (``tune_feedback.py``, ``tune_expansion.py``) share: a run's per-query score
(:func:`per_query`) and the table they print, each setting's nDCG@10 per model, their mean, and the paired
difference from the untuned system per model (95% interval over the queries, :mod:`retriever.eval.significance`);
the setting with the best mean is marked."""

from __future__ import annotations

from retriever.data.dataset import Dataset, Run
from retriever.eval.metrics import evaluate_run, remove_self_hits
from retriever.eval.significance import paired_difference

METRIC = "nDCG@10"


def per_query(dataset: Dataset, run: Run) -> dict[str, float]:
    """Each query's ``METRIC`` for ``run`` on ``dataset``'s qrels, self-hits removed as BEIR does."""
    result = evaluate_run(dataset.qrels, remove_self_hits(run), [METRIC]).per_query
    return {qid: values[METRIC] for qid, values in result.items()}


def mean(values: dict[str, float]) -> float:
    return sum(values.values()) / len(values)


def mean_over_models(per_model: list[dict[str, float]]) -> float:
    return sum(mean(q) for q in per_model) / len(per_model)


def print_tuning_table(
    title: str, models: list[str], scores: dict[str, list[dict[str, float]]], reference: str, label: str
) -> str:
    """Print ``scores`` (setting -> per model, per query ``METRIC``; ``reference`` is the untuned row) as a
    markdown table under ``title``; returns the best setting other than the reference (by the mean)."""
    best = max((name for name in scores if name != reference), key=lambda n: mean_over_models(scores[n]))
    header = " | ".join(f"model {i + 1}" for i in range(len(models)))
    print(f"{title}; models: " + ", ".join(f"{i + 1} = `{m}`" for i, m in enumerate(models)))
    print(f"\n| {label} | {header} | mean | - {reference} per model [95% CI], p |")
    print("|---|" + "---|" * (len(models) + 2))
    for setting, per_model in scores.items():
        values = " | ".join(f"{mean(q):.4f}" for q in per_model)
        versus = (
            ""
            if setting == reference
            else "; ".join(
                str(paired_difference(a, b)) for a, b in zip(per_model, scores[reference], strict=True)
            )
        )
        shown = f"**{setting}** (best)" if setting == best else setting
        print(f"| {shown} | {values} | {mean_over_models(per_model):.4f} | {versus} |")
    return best
