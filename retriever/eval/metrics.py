"""Retrieval metrics that agree with trec_eval, answer accuracy (DPR), and TREC run files.

**Metric names** (``k`` any positive int) and their trec_eval measures, computed by pytrec_eval:

==============  ======================  =====================================================
name            trec_eval measure       relevance
==============  ======================  =====================================================
``nDCG@k``      ``ndcg_cut.k``          graded: gain = grade (all grades, whatever the threshold)
``Recall@k``    ``recall.k``            binary: grade >= ``relevance_threshold``
``P@k``         ``P.k``                 binary
``MAP@k``       ``map_cut.k``           binary
``MAP``         ``map``                 binary
``MRR@k``       ``recip_rank`` on the   binary: 1 / rank of the first relevant doc in the top k,
                run cut to its top k    0 when there is none
==============  ======================  =====================================================

**Ranking order.** trec_eval ignores the rank column: it sorts each query's documents by score descending and
breaks ties by document id descending (string order). :func:`rank_run` produces exactly that order
(:mod:`retriever.retrieval.ranking`), so the run files we write, the top-k cut used for ``MRR@k`` and what
trec_eval sees agree.

**Which queries are averaged.** Every query with at least one judgment with ``grade >= relevance_threshold``
is evaluated, whether or not the run retrieved anything for it: a judged query absent from the run (or
present with no documents) scores 0 on every metric, as ``trec_eval -c`` and the official MS MARCO script
count it (a retriever that finds nothing for a query is not excused from it; BEIR's and bm25s' figures count
such queries as 0 too, because their runs hold every query). Those queries are listed in
:attr:`MetricResult.missing`. ``MetricResult.mean`` is the plain mean of ``MetricResult.per_query``.

MS MARCO and TREC DL use ``relevance_threshold=2`` for binary metrics; BEIR and NQ use 1.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytrec_eval
import regex

from retriever.data.dataset import Corpus, Qrels, Run
from retriever.data.parsing import iter_lines
from retriever.errors import InputError
from retriever.files import atomic_open
from retriever.retrieval.ranking import ranked_items

_METRIC = re.compile(r"^(?P<name>nDCG|MRR|Recall|MAP|P)(?:@(?P<k>[1-9][0-9]*))?$")
_TREC_MEASURES = {"nDCG": "ndcg_cut", "Recall": "recall", "P": "P", "MAP": "map_cut"}
METRIC_FORMS = "nDCG@k, MRR@k, Recall@k, P@k, MAP@k or MAP"


@dataclass(frozen=True)
class MetricResult:
    """Per-query values ``{query id: {metric: value}}``, their means, and the judged queries without results."""

    per_query: dict[str, dict[str, float]]
    mean: dict[str, float]
    missing: list[str] = field(default_factory=list)


def parse_metric(metric: str) -> tuple[str, int | None]:
    """``"nDCG@10"`` -> ``("nDCG", 10)``, ``"MAP"`` -> ``("MAP", None)``; other names are an InputError."""
    match = _METRIC.match(metric)
    if match is None or (match["k"] is None and match["name"] != "MAP"):
        raise InputError(f"unknown metric {metric!r}; expected {METRIC_FORMS}", field="metrics")
    return match["name"], None if match["k"] is None else int(match["k"])


def _trec_measure(name: str, k: int | None) -> str:
    """The pytrec_eval measure of a (non-MRR) metric: ``("nDCG", 10)`` -> ``"ndcg_cut.10"``."""
    return "map" if k is None else f"{_TREC_MEASURES[name]}.{k}"


def rank_run(run: Run, depth: int | None = None) -> dict[str, list[tuple[str, float]]]:
    """Each query's ``(doc id, score)`` list in trec_eval order (score descending, then doc id descending),
    cut to the first ``depth`` documents when given."""
    return {qid: ranked_items(docs, depth) for qid, docs in run.items()}


def evaluate_run(
    qrels: Qrels, run: Run, metrics: Sequence[str], *, relevance_threshold: int = 1
) -> MetricResult:
    """Evaluate ``run`` against ``qrels`` with trec_eval semantics (definitions in the module doc)."""
    specs = {metric: parse_metric(metric) for metric in metrics}
    if not specs:
        raise InputError("no metrics requested", field="metrics")
    judged = {
        qid: docs
        for qid, docs in qrels.items()
        if any(grade >= relevance_threshold for grade in docs.values())
    }
    if not any(qid in run for qid in judged):
        raise InputError("the run contains none of the queries with relevant judgments (query ids differ?)")
    evaluated = list(judged)
    run = {qid: run.get(qid, {}) for qid in evaluated}  # trec_eval -c: a query without results scores 0
    missing = [qid for qid in evaluated if not run[qid]]
    qrels_in = judged

    def measure(ranking: Mapping[str, Iterable[tuple[str, float]]], measures: set[str]) -> dict:
        evaluator = pytrec_eval.RelevanceEvaluator(qrels_in, measures, relevance_level=relevance_threshold)
        return evaluator.evaluate(
            {qid: {doc: float(score) for doc, score in docs} for qid, docs in ranking.items()}
        )

    # Cut measures see only each query's top k (trec_eval order): cut the run to the largest k first.
    plain = {_trec_measure(name, k) for name, k in specs.values() if name != "MRR"}
    mrr_cuts = {k for name, k in specs.values() if name == "MRR"}
    cuts = [k for _, k in specs.values()]
    depth = max(mrr_cuts, default=None) if None in cuts else max(cuts)
    ranked = rank_run({qid: run[qid] for qid in evaluated}, depth) if depth else {}
    results: dict[int | None, dict] = {}  # None: the plain measures; k: recip_rank on the top-k cut
    if plain:
        full = None in cuts
        results[None] = measure({qid: run[qid].items() for qid in evaluated} if full else ranked, plain)
    for k in mrr_cuts:
        results[k] = measure({qid: docs[:k] for qid, docs in ranked.items()}, {"recip_rank"})

    def value(qid: str, name: str, k: int | None) -> float:
        if name == "MRR":
            return results[k][qid]["recip_rank"]
        return results[None][qid][_trec_measure(name, k).replace(".", "_")]

    per_query = {qid: {metric: value(qid, *spec) for metric, spec in specs.items()} for qid in evaluated}
    mean = {metric: sum(values[metric] for values in per_query.values()) / len(per_query) for metric in specs}
    return MetricResult(per_query=per_query, mean=mean, missing=missing)


def remove_self_hits(run: Run) -> Run:
    """The run without hits whose doc id equals the query id (BEIR's rule for corpora that contain the
    queries, e.g. ArguAna, Quora)."""
    return {qid: {doc: score for doc, score in docs.items() if doc != qid} for qid, docs in run.items()}


_DPR_TOKEN = regex.compile(r"[\p{L}\p{N}\p{M}]+|[^\p{Z}\p{C}]", flags=regex.IGNORECASE | regex.UNICODE)


def dpr_tokens(text: str) -> list[str]:
    """DPR's ``SimpleTokenizer`` as used by ``has_answer``: NFD-normalise, then tokens are runs of letters,
    digits and marks (``[\\p{L}\\p{N}\\p{M}]+``) or single other non-space characters (each punctuation mark
    is its own token), lowercased."""
    return [token.lower() for token in _DPR_TOKEN.findall(unicodedata.normalize("NFD", text))]


def has_answer(answer_tokens: Iterable[list[str]], passage_tokens: list[str]) -> bool:
    """DPR's string match: some answer's token sequence occurs contiguously in the passage's tokens."""
    for answer in answer_tokens:
        width = len(answer)
        if width and any(
            passage_tokens[i : i + width] == answer for i in range(len(passage_tokens) - width + 1)
        ):
            return True
    return False


def answer_accuracy(
    run: Run, answers: dict[str, list[str]], corpus: Corpus, ks: Sequence[int] = (1, 5, 20, 100)
) -> dict[str, float]:
    """``{"Accuracy@k": share of questions with an answer in the text (not the title) of a top-k passage}``.

    Every question of ``answers`` counts, as in DPR: one absent from the run is a miss. Passages are ranked in
    trec_eval order (:func:`rank_run`).
    """
    if not answers:
        raise InputError("no answers to evaluate (the dataset has no answers field)", field="answers")
    depth = max(ks)
    ranked = rank_run({qid: run.get(qid, {}) for qid in answers}, depth)
    passage_tokens: dict[str, list[str]] = {}

    def tokens(doc: str) -> list[str]:
        if doc not in passage_tokens:
            passage_tokens[doc] = _passage(corpus, doc)
        return passage_tokens[doc]

    hits = dict.fromkeys(ks, 0)
    for qid, strings in answers.items():
        targets = [dpr_tokens(answer) for answer in strings]
        first = next(
            (rank for rank, (doc, _) in enumerate(ranked[qid], start=1) if has_answer(targets, tokens(doc))),
            None,
        )
        for k in ks:
            hits[k] += first is not None and first <= k
    return {f"Accuracy@{k}": hits[k] / len(answers) for k in ks}


def _passage(corpus: Corpus, doc_id: str) -> list[str]:
    position = corpus.position.get(doc_id)
    if position is None:
        raise InputError(f"the run retrieves document {doc_id!r}, which is not in the corpus", field="docid")
    return dpr_tokens(corpus.texts[position])


def write_trec_run(run: Run, path: str | Path, tag: str) -> None:
    """Write ``qid Q0 docid rank score tag`` lines in trec_eval order (ranks from 1, scores exact)."""
    if not tag or any(char.isspace() for char in tag):
        raise InputError(f"run tag {tag!r} must be non-empty without spaces", field="tag")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as out:
        for qid, docs in rank_run(run).items():
            for rank, (doc, score) in enumerate(docs, start=1):
                if any(char.isspace() for char in qid + doc):
                    raise InputError(
                        f"ids cannot contain spaces: query {qid!r}, document {doc!r}", field="docid"
                    )
                out.write(f"{qid} Q0 {doc} {rank} {float(score)!r} {tag}\n")


_RUN_FIELDS = ("qid", "Q0", "docid", "rank", "score", "tag")


def read_trec_run(path: str | Path) -> Run:
    """Read a TREC run file (``qid Q0 docid rank score tag`` lines) into ``{qid: {doc: score}}``."""
    path = Path(path)
    if not path.is_file():
        raise InputError("run file not found", path=path)
    run: Run = {}
    for line, text in iter_lines(path):
        fields = text.split()
        if len(fields) != len(_RUN_FIELDS):
            raise InputError(
                f"expected 6 fields 'qid Q0 docid rank score tag', found {len(fields)}",
                path=path,
                line=line,
                field=_RUN_FIELDS[min(len(fields), len(_RUN_FIELDS) - 1)],
            )
        qid, _, doc, rank, score, _ = fields
        for name, value, kind in (("rank", rank, int), ("score", score, float)):
            try:
                kind(value)
            except ValueError:
                raise InputError(f"{value!r} is not a number", path=path, line=line, field=name) from None
        docs = run.setdefault(qid, {})
        if doc in docs:
            raise InputError(
                f"document {doc!r} appears twice for query {qid!r}", path=path, line=line, field="docid"
            )
        docs[doc] = float(score)
    return run
