"""Evaluation outputs: a rich comparison table, ``report.json``, ``report.md`` and TREC run files.

``report.json`` schema (``"schema": "retriever.eval.report/1"``), the same for one or several systems::

    {
      "schema": "retriever.eval.report/1",
      "metrics": {...},              # the first system's mean metrics (the only one in a single-system eval)
      "timings": {...},              # the first system's timings in seconds, plus "load_data"
      "systems": [                   # every system, in run order
        {"name": "dense", "retriever": "dense|bm25|hybrid", "model": "label or null",
         "metrics": {"nDCG@10": 0.6451, ...}, "timings": {"encode_corpus": ..., "total": ...},
         "run_file": "run.trec", "encoder": {model, source, similarity, normalized, ...} or null,
         "missing_queries": [...],   # judged queries without any result (each scored 0: trec_eval -c)
         "vs_first": {"nDCG@10": {"mean", "low", "high", "p", "queries"}, ...}}  # systems after the first:
      ],                             # paired difference from the first system (retriever.eval.significance)
      "dataset": {"name", "source", "split", "fingerprint", "counts": {documents, queries, qrels, answers}},
      "evaluation": {"style": "beir|msmarco|nq", "metrics": [...], "relevance_threshold": 1,
                     "remove_self_hits": true},   # as applied (BEIR style: on unless configured off)
      "config": {...every EvalConfig (or EvalSettings) field, defaults included...},
      "versions": {"python", "torch", "sentence-transformers", "faiss-cpu", "bm25s", ...}
    }

Figure (with the ``plots`` extra): ``DIR/metrics_by_cutoff.png``, nDCG@k and Recall@k of every system for k in
:data:`CURVE_CUTOFFS` up to the run depth (plus Accuracy@k in NQ style), computed from the stored runs by
:func:`retriever.eval.metrics.evaluate_run` (so each point equals the metric of that name); ``report.md`` links it.

Run files: ``DIR/run.trec`` for a single system, else ``DIR/<system>/run.trec`` (``:`` and other characters
outside ``[A-Za-z0-9._-]`` in a system name become ``_``); the run tag is that same safe name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from retriever.data.dataset import Qrels
from retriever.eval.runner import EvalReport, SystemResult, safe_name
from retriever.eval.significance import PairedDifference, paired_difference
from retriever.files import atomic_write_json, atomic_write_text

SCHEMA = "retriever.eval.report/1"
FIGURE = "metrics_by_cutoff.png"
CURVE_CUTOFFS = (1, 3, 5, 10, 20, 50, 100, 200, 500, 1000)


def run_file(report: EvalReport, system: SystemResult) -> str:
    """The run file path relative to the output directory."""
    return "run.trec" if len(report.systems) == 1 else f"{safe_name(system.name)}/run.trec"


def versus_first(report: EvalReport) -> dict[str, dict[str, PairedDifference]]:
    """Each system after the first against the first, per metric: ``{system: {metric: difference}}``
    (a metric is left out where either system has no per-query value)."""
    if len(report.systems) < 2:
        return {}
    first, *others = report.systems

    def values(system: SystemResult, metric: str) -> dict[str, float]:
        return {query: row[metric] for query, row in system.per_query.items() if metric in row}

    comparisons: dict[str, dict[str, PairedDifference]] = {}
    for system in others:
        comparisons[system.name] = {}
        for metric in report.metric_names:
            mine, theirs = values(system, metric), values(first, metric)
            if set(mine) & set(theirs):
                comparisons[system.name][metric] = paired_difference(mine, theirs)
    return comparisons


def to_dict(report: EvalReport) -> dict[str, Any]:
    """The ``report.json`` content (schema in the module doc)."""
    comparisons = versus_first(report)
    systems = [
        {
            "name": system.name,
            "retriever": system.retriever,
            "model": system.model,
            "metrics": system.metrics,
            "timings": system.timings,
            "run_file": run_file(report, system),
            "encoder": system.encoder,
            "missing_queries": system.missing_queries,
        }
        | (
            {"vs_first": {m: d.as_dict() for m, d in comparisons[system.name].items()}}
            if system.name in comparisons
            else {}
        )
        for system in report.systems
    ]
    first = systems[0] if systems else {"metrics": {}, "timings": {}}
    return {
        "schema": SCHEMA,
        "metrics": first["metrics"],
        "timings": {**report.timings, **first["timings"]},
        "systems": systems,
        "dataset": report.dataset,
        "evaluation": {
            "style": report.style,
            "metrics": report.metric_names,
            "relevance_threshold": report.relevance_threshold,
            "remove_self_hits": report.remove_self_hits,
        },
        "config": report.config.model_dump(mode="json"),
        "versions": report.versions,
    }


def table(report: EvalReport):
    """A rich table: one row per system, one column per metric (best value in bold), total seconds."""
    from rich.table import Table

    dataset = report.dataset
    title = f"{dataset['name']} / {dataset['split']} ({dataset['counts']['queries']} queries)"
    out = Table(title=title)
    out.add_column("system")
    for metric in report.metric_names:
        out.add_column(metric, justify="right")
    out.add_column("seconds", justify="right")
    best = {
        m: max((s.metrics.get(m, float("-inf")) for s in report.systems), default=0)
        for m in report.metric_names
    }
    for system in report.systems:
        cells = []
        for metric in report.metric_names:
            value = system.metrics.get(metric)
            text = "-" if value is None else f"{value:.4f}"
            cells.append(
                f"[bold]{text}[/bold]" if len(report.systems) > 1 and value == best[metric] else text
            )
        out.add_row(system.name, *cells, f"{system.timings.get('total', 0.0):.1f}")
    return out


def cutoff_curves(report: EvalReport, qrels: Qrels | None) -> dict[str, dict[str, dict[int, float]]]:
    """``{"nDCG": {system: {k: mean}}, "Recall": ..., ["Accuracy": ...]}`` for the cutoff figure: nDCG@k and
    Recall@k of each system's stored run for k in :data:`CURVE_CUTOFFS` up to the run depth (and the depth
    itself), scored like the report's metrics; Accuracy@k from the report (NQ style)."""
    from retriever.eval.metrics import evaluate_run

    depth = report.config.k
    ks = sorted({k for k in CURVE_CUTOFFS if k <= depth} | {depth})
    curves: dict[str, dict[str, dict[int, float]]] = {"nDCG": {}, "Recall": {}}
    names = [f"{family}@{k}" for family in curves for k in ks]
    for system in report.systems if qrels else []:  # the runner's call, at more cutoffs
        means = evaluate_run(qrels, system.run, names, relevance_threshold=report.relevance_threshold).mean
        for family in curves:
            curves[family][system.name] = {k: means[f"{family}@{k}"] for k in ks}
    accuracy = {
        system.name: {int(m.split("@")[1]): v for m, v in system.metrics.items() if m.startswith("Accuracy@")}
        for system in report.systems
    }
    if any(accuracy.values()):
        curves["Accuracy"] = accuracy
    return curves


def markdown(report: EvalReport, figure: str | None = None) -> str:
    """``report.md``: the comparison table (then ``figure``, a file name, when given), timings and the
    settings that produced them."""
    dataset = report.dataset
    lines = [
        f"# Evaluation: {dataset['name']} ({dataset['split']})",
        "",
        f"{dataset['counts']['queries']} queries, {dataset['counts']['documents']} documents, corpus "
        f"fingerprint `{dataset['fingerprint']}`; metric style `{report.style}`, relevance threshold "
        f"{report.relevance_threshold}, self-hits {'removed' if report.remove_self_hits else 'kept'}.",
        "",
        "| system | " + " | ".join(report.metric_names) + " |",
        "|---|" + "---:|" * len(report.metric_names),
    ]
    for system in report.systems:
        values = [f"{system.metrics[m]:.4f}" if m in system.metrics else "-" for m in report.metric_names]
        lines.append(f"| {system.name} | " + " | ".join(values) + " |")
    if figure:
        lines += ["", f"![metrics by cutoff k, every system]({figure})"]
    for system in report.systems:
        if system.missing_queries:
            shown = ", ".join(system.missing_queries[:10]) + (
                ", ..." if len(system.missing_queries) > 10 else ""
            )
            lines += [
                "",
                f"{system.name}: {len(system.missing_queries)} judged queries without results, each "
                f"scored 0 (as `trec_eval -c`): {shown}.",
            ]
    comparisons = versus_first(report)
    if comparisons:
        lines += [
            "",
            f"## Paired differences from {report.systems[0].name}",
            "",
            "Mean per-query difference, 95% bootstrap interval, two-sided sign-flip p-value "
            "(10,000 samples, seed 0).",
            "",
            "| system | " + " | ".join(report.metric_names) + " |",
            "|---|" + "---:|" * len(report.metric_names),
        ]
        for name, by_metric in comparisons.items():
            cells = [str(by_metric[m]) if m in by_metric else "-" for m in report.metric_names]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "## Timings (seconds)", "", "| system | step | seconds |", "|---|---|---:|"]
    for system in report.systems:
        lines += [f"| {system.name} | {step} | {seconds:.2f} |" for step, seconds in system.timings.items()]
    config = json.dumps(report.config.model_dump(mode="json"), indent=2)
    lines += ["", "## Settings", "", "```json", config, "```", ""]
    return "\n".join(lines)


def write_report(report: EvalReport, directory: str | Path, qrels: Qrels | None = None) -> Path:
    """Write the run file(s), ``report.json``, the cutoff figure (with the ``plots`` extra; its nDCG@k and
    Recall@k curves need ``qrels``, the dataset's) and ``report.md`` into ``directory``; returns it."""
    from retriever import plots
    from retriever.eval.metrics import write_trec_run

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for system in report.systems:
        write_trec_run(system.run, directory / run_file(report, system), safe_name(system.name))
    atomic_write_json(directory / "report.json", to_dict(report))
    curves = cutoff_curves(report, qrels) if report.systems and plots.available() else {}
    title = f"{report.dataset['name']} / {report.dataset['split']}"
    figure = plots.cutoff_figure(curves, directory / FIGURE, title)
    atomic_write_text(directory / "report.md", markdown(report, figure.name if figure else None))
    return directory
