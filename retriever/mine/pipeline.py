"""The mining pipeline: candidates -> teacher scores -> LLM judgements -> positives, negatives, ECI -> files.

Phases and their checkpoints in the output directory (a rerun of the same command resumes from them):

1. ``candidates``: per-source runs saved in ``candidates.json`` (keyed by what they depend on);
2. ``teacher``: scores of every (query, candidate) and (query, known positive) pair, in
   ``cache/teacher.sqlite``;
3. ``judge`` (optional): verdicts on the ``judge_depth`` best candidates by teacher score and on the known
   positives, each committed to ``cache/judgements.sqlite`` before use;
4. ``select``: positive sets (:mod:`.positives`), negatives for every strategy (:mod:`.negatives`), each
   scored with ECI (:mod:`.eci`); every strategy's examples go to ``strategies/<name>.jsonl``, the chosen
   one's to ``train.jsonl`` and everything measured to ``manifest.json`` (all written atomically, last),
   then ``report.md`` (the ECI table) and, with the ``plots`` extra, ``eci.png`` (:mod:`.summary`).

Strategies rank a query's candidates: ``bm25`` and ``dense`` by their own scores, ``hybrid`` by their
fusion, ``teacher`` by teacher score over the union of all sources. ``auto`` picks the strategy with the
highest ECI of its negatives as mined (before the false-negative filters), then writes its filtered
negatives. A candidate whose text equals a positive's text (case and spacing aside) is a duplicate of it and
never a negative.
"""

from __future__ import annotations

import functools
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from retriever.data.dataset import Dataset, Run
from retriever.data.training_file import Negative, Positive, TrainingExample, write_training_file
from retriever.errors import InputError, RetrieverError
from retriever.files import atomic_write_json
from retriever.mine import candidates as cand
from retriever.mine.config import MineConfig, Strategy
from retriever.mine.eci import DEFAULT_SCALES, Eci, mean_eci, query_eci
from retriever.mine.judges.backends import load_backend
from retriever.mine.judges.cache import JudgementCache
from retriever.mine.judges.prompts import PROMPTS
from retriever.mine.judges.runner import JudgeCounters, Request, judge_all
from retriever.mine.negatives import Candidate, Selection, select_negatives
from retriever.mine.positives import merge_positives
from retriever.mine.teacher import check_cross_encoder, load_teacher, score_pairs
from retriever.outputs import require_output_dir
from retriever.provenance import library_versions
from retriever.retrieval.ranking import ranked

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def _normalised(text: str) -> str:
    return " ".join(text.lower().split())


class Miner:
    """One mining run over ``config`` writing into ``out``; :meth:`run` returns the manifest."""

    def __init__(self, config: MineConfig, out: str | Path, log: Log = _stderr) -> None:
        self.config = config
        self.out = Path(out)
        self.log = log
        self.timings: dict[str, float] = {}

    def _timed(self, phase: str, started: float) -> None:
        self.timings[phase] = round(time.perf_counter() - started, 3)
        self.log(f"mine: {phase} done in {self.timings[phase]:.1f}s")

    @functools.cached_property
    def encoder(self):
        from retriever.retrieval.encoder import Encoder

        return Encoder(str(self.config.candidates.bi_encoder), self.config.candidates.encoder, progress=True)

    @functools.cached_property
    def embedding_cache(self):
        from retriever.retrieval.embedding_cache import EmbeddingCache

        return EmbeddingCache()

    # ---- phases ---------------------------------------------------------------------------------

    def load(self) -> tuple[Dataset, dict[str, str], dict[str, set[str]]]:
        from retriever.data.loader import load_dataset

        dataset = load_dataset(self.config.data, self.config.split)
        queries = dataset.judged_queries()
        if self.config.max_queries:
            queries = dict(list(queries.items())[: self.config.max_queries])
        if not queries:
            raise InputError(f"no queries with qrels in split {self.config.split!r}", path=self.config.data)
        floor = self.config.positives.min_qrels_grade
        known = {
            qid: {
                doc
                for doc, grade in dataset.qrels.get(qid, {}).items()
                if grade >= floor and doc in dataset.corpus.position
            }
            for qid in queries
        }
        return dataset, queries, known

    def retrieve(
        self, dataset: Dataset, queries: dict[str, str], known: dict[str, set[str]]
    ) -> dict[str, Run]:
        c = self.config.candidates
        key = cand.checkpoint_key(
            {
                "corpus": dataset.corpus.fingerprint,
                "queries": sorted(queries.items()),
                "known": {q: sorted(d) for q, d in known.items()},
                "sources": self.config.sources(),
                "candidates": c.model_dump(mode="json", exclude={"fusion"}),
            }
        )
        path = self.out / "candidates.json"
        runs = cand.load_checkpoint(path, key)
        if runs is not None:
            self.log(f"mine: candidates read from {path}")
            return runs
        runs = cand.retrieve(
            dataset.corpus,
            queries,
            known,
            self.config.sources(),
            c,
            lambda: self.encoder,
            self.embedding_cache,
        )
        cand.save_checkpoint(path, key, runs)
        return runs

    def judge(
        self,
        dataset: Dataset,
        queries: dict[str, str],
        known: dict[str, set[str]],
        union: dict[str, list[str]],
        scores: dict[tuple[str, str], float],
    ) -> tuple[dict[str, dict[str, int]], dict[str, Any]]:
        """LLM grades (successful verdicts only) by query and passage, and the judge's manifest entry."""
        backend = load_backend(self.config.judge)
        if backend is None:
            return {}, {"kind": "none"}
        depth = self.config.judge.judge_depth
        requests = []
        for qid, query in queries.items():
            best = ranked({d: scores[qid, d] for d in union[qid]}, depth)
            docs = sorted(known[qid]) + best
            requests.append(Request(qid, query, [(doc, dataset.corpus.document(doc)) for doc in docs]))
        counters = JudgeCounters()
        total = sum(len(r.passages) for r in requests)
        with (
            JudgementCache(self.out / "cache" / "judgements.sqlite") as cache,
            tqdm(total=total, desc=f"judge ({backend.kind})", unit="pair") as bar,
        ):
            verdicts = judge_all(backend, self.config.judge, cache, requests, counters, bar.update)
        grades: dict[str, dict[str, int]] = {}
        for (qid, doc), verdict in sorted(verdicts.items()):
            if verdict.status == "ok":
                grades.setdefault(qid, {})[doc] = int(verdict.grade)
        statuses = Counter(v.status for v in verdicts.values())
        if statuses["failed"] > self.config.judge.max_failed_share * total:
            faults = counters.faults.most_common(3)
            reasons = ", ".join(f"{reason} x{count}" for reason, count in faults) or "unknown"
            raise RetrieverError(
                f"judge: {statuses['failed']} of {total} judgements failed ({reasons}) at "
                f"{', '.join(self.config.judge.base_url) if backend.kind == 'openai' else backend.model}; the "
                f"{statuses['ok']} verdicts are cached and a rerun retries only the failed ones "
                f"(judge.max_failed_share={self.config.judge.max_failed_share:g})"
            )
        entry = {
            "kind": backend.kind,
            "model": backend.model,
            "prompt_version": PROMPTS[self.config.judge.prompt].version,
            "pairs": total,
            "ok": statuses["ok"],
            "failed": statuses["failed"],
            "counters": counters.as_dict(),
        }
        return grades, entry

    # ---- the run --------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        if self.config.teacher.model:  # a wrong teacher fails now, not after the candidates phase
            check_cross_encoder(self.config.teacher.model)
        require_output_dir(self.out, field="out")
        self.out.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        dataset, queries, known = self.load()
        self._timed("load", started)

        started = time.perf_counter()
        runs = self.retrieve(dataset, queries, known)
        rankings: dict[Strategy, Run] = {s: runs[s] for s in ("bm25", "dense") if s in runs}
        if "bm25" in runs and "dense" in runs:
            rankings["hybrid"] = cand.hybrid(runs, self.config.candidates)
        union = {q: sorted({d for run in runs.values() for d in run.get(q, {})}) for q in queries}
        self._timed("candidates", started)

        started = time.perf_counter()
        teacher = load_teacher(self.config.teacher, dataset, lambda: self.encoder, self.embedding_cache)
        pairs = [(q, d) for q in queries for d in union[q] + sorted(known[q])]
        scores, teacher_hits = score_pairs(teacher, self.out / "cache" / "teacher.sqlite", pairs)
        self._timed("teacher", started)

        started = time.perf_counter()
        grades, judge_entry = self.judge(dataset, queries, known, union, scores)
        self._timed("judge", started)

        started = time.perf_counter()
        temperature, margin = DEFAULT_SCALES[teacher.kind]
        temperature = self.config.eci.temperature or temperature
        margin = margin if self.config.eci.margin is None else self.config.eci.margin
        selected = self.select(dataset, queries, union, rankings, scores, grades, temperature, margin)
        self._timed("select", started)

        table = selected["eci"]
        chosen = max(table, key=lambda s: table[s]["as_mined"]["eci"]) if table else None
        for strategy, strategy_examples in selected["examples"].items():
            write_training_file(self.out / "strategies" / f"{strategy}.jsonl", strategy_examples)
        examples = selected["examples"].get(chosen, [])
        write_training_file(self.out / "train.jsonl", examples)
        manifest = {
            "config": self.config.model_dump(mode="json"),
            "versions": library_versions(),
            "dataset": {
                "data": self.config.data,
                "split": self.config.split,
                "corpus_fingerprint": dataset.corpus.fingerprint,
                "documents": len(dataset.corpus),
                "queries": len(queries),
            },
            "teacher": {
                "kind": teacher.kind,
                "key": teacher.key,
                "pairs": len(scores),
                "cache_hits": teacher_hits,
            },
            "eci_scales": {"temperature": temperature, "margin": margin},
            "judge": judge_entry,
            "strategy": chosen,
            "eci": table,
            "counts": {**selected["counts"], "examples": len(examples)},
            "timings_s": self.timings,
        }
        atomic_write_json(self.out / "manifest.json", manifest)
        from retriever.mine.summary import write_report

        write_report(self.out, manifest)
        return manifest

    def select(
        self,
        dataset: Dataset,
        queries: dict[str, str],
        union: dict[str, list[str]],
        rankings: dict[Strategy, Run],
        scores: dict[tuple[str, str], float],
        grades: dict[str, dict[str, int]],
        temperature: float,
        margin: float,
    ) -> dict[str, Any]:
        strategies = [s for s in self.config.strategies() if s == "teacher" or s in rankings]
        counts: Counter[str] = Counter()
        per_strategy: dict[str, dict[str, list]] = {
            s: {"raw": [], "kept": [], "unsafe": []} for s in strategies
        }
        examples: dict[str, list[TrainingExample]] = {s: [] for s in strategies}
        corpus = dataset.corpus
        by_query: dict[str, dict[str, float]] = {}
        for (q, doc), score in scores.items():
            by_query.setdefault(q, {})[doc] = score
        for qid in tqdm(queries, desc="select", unit="query"):
            teacher = by_query.get(qid, {})
            qrels = {d: g for d, g in dataset.qrels.get(qid, {}).items() if d in corpus.position}
            positive_set = merge_positives(qrels, grades.get(qid, {}), teacher, self.config.positives)
            counts["conflicts"] += positive_set.conflicts
            counts["conflicts_dropped"] += positive_set.dropped
            if not positive_set.positives:
                counts["queries_without_positives"] += 1
                continue
            counts["queries_without_candidates"] += not union[qid]
            weakest = min(teacher[doc] for doc, _ in positive_set.positives)
            positive_texts = {_normalised(corpus.document(doc)) for doc, _ in positive_set.positives}
            duplicates = {doc for doc in union[qid] if _normalised(corpus.document(doc)) in positive_texts}
            counts["duplicates_of_positives"] += len(duplicates - positive_set.exclude)
            exclude = positive_set.exclude | duplicates
            positives = [
                Positive(id=doc, text=corpus.document(doc), source=source, teacher_score=teacher[doc])
                for doc, source in positive_set.positives
            ]
            for source, n in Counter(source for _, source in positive_set.positives).items():
                counts[f"positives_{source}"] += n
            for strategy in strategies:
                selection = self._negatives(qid, strategy, rankings, union, teacher, weakest, exclude)
                stats = per_strategy[strategy]
                stats["raw"].append(
                    query_eci(weakest, [c.teacher_score for c in selection.raw], temperature, margin)
                )
                stats["kept"].append(
                    query_eci(weakest, [c.teacher_score for c in selection.negatives], temperature, margin)
                )
                stats["unsafe"].append(selection.unsafe_dropped)
                negatives = [
                    Negative(
                        id=c.id,
                        text=corpus.document(c.id),
                        source=c.source,
                        retriever_score=c.retriever_score,
                        teacher_score=c.teacher_score,
                    )
                    for c in selection.negatives
                ]
                examples[strategy].append(
                    TrainingExample(
                        query_id=qid, query=queries[qid], positives=positives, negatives=negatives
                    )
                )
        table = {s: _eci_entry(per_strategy[s], self.config.negatives.count) for s in strategies}
        return {"eci": table, "examples": examples, "counts": dict(sorted(counts.items()))}

    def _negatives(
        self,
        qid: str,
        strategy: Strategy,
        rankings: dict[Strategy, Run],
        union: dict[str, list[str]],
        teacher: dict[str, float],
        weakest: float,
        exclude: set[str],
    ) -> Selection:
        """One strategy's negatives for ``qid`` (``teacher``: this query's teacher scores by passage)."""
        if strategy == "teacher":
            ordered = ranked({d: teacher[d] for d in union[qid]})
            ranking = [Candidate(d, "teacher", None, teacher[d]) for d in ordered]
        else:
            run = rankings[strategy].get(qid, {})
            ordered = ranked(run)
            ranking = [Candidate(d, strategy, run[d], teacher[d]) for d in ordered]
        return select_negatives(qid, ranking, weakest, exclude, self.config.negatives)


def _eci_entry(stats: dict[str, list], count: int) -> dict[str, Any]:
    raw: list[Eci] = stats["raw"]
    kept: list[Eci] = stats["kept"]
    return {
        "queries": len(raw),
        "as_mined": mean_eci(raw).as_dict(),
        "filtered": mean_eci(kept).as_dict(),
        "unsafe_dropped": int(sum(stats["unsafe"])),
        "queries_short_of_negatives": sum(1 for e in kept if e.k < count),
    }


def mine(config: MineConfig, out: str | Path, log: Log = _stderr) -> dict[str, Any]:
    """Run every phase of mining into ``out``; returns the manifest (also in ``out/manifest.json``)."""
    return Miner(config, out, log).run()
