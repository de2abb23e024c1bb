"""One ``retriever judge`` run: sample labelled pairs, judge them with the mining judge, score agreement.

The judging is exactly :func:`retriever.mine.judges.runner.judge_all` with the mining backends, prompts,
retries and SQLite cache (``output/judgements.sqlite``: a rerun pays for nothing twice). Failed judgements
(retry budget spent, e.g. unparseable answers) are left out of the agreement and reported as a share.

``output/judge_report.json`` (``"schema": "retriever.judge.report/1"``)::

    {"schema", "dataset": {name, split, relevance_threshold}, "judge": {kind, model, prompt_version},
     "sample": {"pairs", "by_grade": {grade: n}, "unjudged"}, "agreement": {...Agreement.as_dict()},
     "failed": n, "failed_share": x, "unparseable_attempts": n, "seconds": s,
     "judgements_per_s": x (fresh judgements / wall seconds; null when everything came from the cache),
     "counters": {...JudgeCounters.as_dict()}, "config": {...}}

and ``judge_report.md`` with the same figures.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from retriever.errors import InputError
from retriever.judge.agreement import agreement
from retriever.judge.config import JudgeRunConfig
from retriever.judge.sample import LabelledPair, stratified_sample, unjudged_pairs
from retriever.outputs import require_output_dir

SCHEMA = "retriever.judge.report/1"
REPORT = "judge_report.json"


def run_judge(config: JudgeRunConfig) -> dict[str, Any]:
    """Judge the sample, write the reports into ``config.output`` and return the report dict."""
    from tqdm.auto import tqdm

    from retriever.data.loader import load_dataset
    from retriever.mine.judges.backends import load_backend
    from retriever.mine.judges.cache import JudgementCache
    from retriever.mine.judges.prompts import PROMPTS
    from retriever.mine.judges.runner import JudgeCounters, Request, judge_all

    output = require_output_dir(config.output)
    if config.judge.kind == "none":
        raise InputError("give a judge to measure (--judge openai or hf)", field="judge.kind")
    dataset = load_dataset(config.data, config.split)
    if not dataset.qrels:
        raise InputError("the dataset has no qrels to measure a judge against", path=config.data)
    graded = any(grade >= 2 for judged in dataset.qrels.values() for grade in judged.values())
    threshold = config.relevance_threshold or (2 if graded else 1)
    pairs = stratified_sample(dataset, config.sample, config.seed)
    pairs += unjudged_pairs(dataset, pairs, config.unjudged, config.seed)
    backend = load_backend(config.judge)
    by_query: dict[str, list[LabelledPair]] = {}
    for pair in pairs:
        by_query.setdefault(pair.query_id, []).append(pair)
    requests = [
        Request(qid, dataset.queries[qid], [(p.doc_id, dataset.corpus.document(p.doc_id)) for p in group])
        for qid, group in by_query.items()
    ]
    counters = JudgeCounters()
    output.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with (
        JudgementCache(output / "judgements.sqlite") as cache,
        tqdm(total=len(pairs), desc=f"judge ({backend.kind})", unit="pair") as bar,
    ):
        verdicts = judge_all(backend, config.judge, cache, requests, counters, bar.update)
    seconds = time.perf_counter() - started
    ok = [(pair, verdicts[pair.query_id, pair.doc_id]) for pair in pairs]
    ok = [(pair, verdict) for pair, verdict in ok if verdict.status == "ok"]
    if not ok:
        raise InputError(
            f"the judge answered none of the {len(pairs)} pairs in the expected format "
            f"(faults: {dict(counters.faults)}); nothing to measure",
            field="judge",
        )
    measured = agreement([p.grade for p, _ in ok], [int(v.grade) for _, v in ok], threshold, seed=config.seed)
    failed = len(pairs) - len(ok)
    report = {
        "schema": SCHEMA,
        "dataset": {"name": dataset.name, "split": dataset.split, "relevance_threshold": threshold},
        "judge": {
            "kind": backend.kind,
            "model": backend.model,
            "prompt_version": PROMPTS[config.judge.prompt].version,
        },
        "sample": {
            "pairs": len(pairs),
            "by_grade": {str(g): n for g, n in sorted(Counter(p.grade for p in pairs).items())},
            "unjudged": sum(p.source == "unjudged" for p in pairs),
        },
        "agreement": measured.as_dict(),
        "failed": failed,
        "failed_share": failed / len(pairs),
        "unparseable_attempts": counters.faults.get("unparseable", 0),
        "seconds": round(seconds, 3),
        "judgements_per_s": counters.judged / seconds if counters.judged else None,
        "counters": counters.as_dict(),
        "config": config.model_dump(mode="json"),
    }
    (output / REPORT).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (output / "judge_report.md").write_text(markdown(report), encoding="utf-8")
    return report


def markdown(report: dict[str, Any]) -> str:
    """``judge_report.md``: the agreement table, the confusion matrix and the cost."""
    a, judge = report["agreement"], report["judge"]
    speed = report["judgements_per_s"]
    lines = [
        f"# Judge agreement: {judge['kind']} {judge['model']} ({judge['prompt_version']}) on "
        f"{report['dataset']['name']} / {report['dataset']['split']}",
        "",
        f"{report['sample']['pairs']} pairs (by human grade: {report['sample']['by_grade']}), binary label "
        f"grade >= {a['threshold']}; 95% bootstrap intervals over pairs.",
        "",
        "| pairs judged | Cohen's kappa (binary) | weighted kappa (0-3, quadratic) | binary accuracy | failed | "
        "judgements/s | prompt / completion tokens |",
        "|---|---|---|---|---|---|---|",
        f"| {a['pairs']} | {interval(a['binary_kappa'])} | {interval(a['weighted_kappa'])} | "
        f"{a['binary_accuracy']:.3f} | {report['failed']} ({report['failed_share']:.1%}) | "
        f"{'cached' if speed is None else f'{speed:.2f}'} | {report['counters']['prompt_tokens']} / "
        f"{report['counters']['completion_tokens']} |",
        "",
        "Confusion (rows: human grade, columns: judge grade):",
        "",
        "| human \\ judge | 0 | 1 | 2 | 3 |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {g} | " + " | ".join(str(n) for n in row) + " |" for g, row in enumerate(a["confusion"])]
    return "\n".join(lines) + "\n"


def interval(kappa: dict[str, float]) -> str:
    """A kappa entry of the report as `value [low, high]`."""
    return f"{kappa['value']:.3f} [{kappa['low']:.3f}, {kappa['high']:.3f}]"
