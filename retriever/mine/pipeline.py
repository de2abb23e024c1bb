"""The mining pipeline: candidates -> teacher scores -> LLM judgements -> positives, negatives, ECI -> files.

Phases and their checkpoints in the output directory (a rerun of the same command resumes from them):

1. ``candidates``: per-source candidate arrays saved in ``candidates/`` (keyed by what they depend on;
   :mod:`.candidates`);
2. ``teacher``: scores of every (query, candidate) and (query, known positive) pair, in
   ``cache/teacher.sqlite``, streamed query by query (:func:`~retriever.mine.teacher.score_pairs`);
3. ``judge`` (optional): verdicts on the ``judge_depth`` best candidates by teacher score and on the known
   positives, each committed to ``cache/judgements.sqlite`` before use;
4. ``select``: positive sets (:mod:`.positives`), negatives for every strategy (:mod:`.negatives`), each
   scored with ECI (:mod:`.eci`); every strategy's examples are streamed, query by query, to
   ``strategies/<name>.jsonl`` (each an atomic write: the file appears complete when the phase ends), the
   chosen one's copied to ``train.jsonl`` and everything measured to ``manifest.json`` (atomically, last),
   then ``report.md`` (the ECI table) and, with the ``plots`` extra, ``eci.png`` (:mod:`.summary`).

No phase holds per-pair Python objects for the whole run: candidates are arrays (memory-mapped when read
back), teacher scores are read from the cache one query at a time, and examples leave for their files as
soon as they are built, so memory grows with the corpus, not with queries x depth.

Strategies rank a query's candidates: ``bm25`` and ``dense`` by their own scores, ``hybrid`` by their
fusion, ``teacher`` by teacher score over the union of all sources. ``auto`` picks the strategy with the
highest ECI of its negatives as mined (before the false-negative filters), then writes its filtered
negatives. A candidate whose text equals a positive's text (case and spacing aside) is a duplicate of it and
never a negative.
"""

from __future__ import annotations

import functools
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from retriever.data.dataset import Dataset
from retriever.data.training_file import Negative, Positive, TrainingExample, open_training_file
from retriever.errors import InputError, RetrieverError
from retriever.files import atomic_path, atomic_write_json
from retriever.mine import candidates as cand
from retriever.mine.config import MineConfig, Strategy
from retriever.mine.eci import DEFAULT_SCALES, Eci, mean_eci, query_eci
from retriever.mine.judges.backends import load_backend
from retriever.mine.judges.cache import JudgementCache
from retriever.mine.judges.prompts import PROMPTS
from retriever.mine.judges.runner import JudgeCounters, Request, judge_all
from retriever.mine.negatives import Candidate, Selection, select_negatives
from retriever.mine.positives import merge_positives
from retriever.mine.teacher import (
    ScoreCache,
    TeacherScores,
    check_cross_encoder,
    load_teacher,
    score_pairs,
)
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
        return bi_encoder(self.config)

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
    ) -> dict[str, cand.CandidateArrays]:
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
        path = self.out / "candidates"
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
        pool: CandidatePool,
        scores: TeacherScores,
    ) -> tuple[dict[str, dict[str, int]], dict[str, Any]]:
        """LLM grades (successful verdicts only) by query and passage, and the judge's manifest entry."""
        backend = load_backend(self.config.judge)
        if backend is None:
            return {}, {"kind": "none"}
        depth = self.config.judge.judge_depth
        requests = []
        for i, (qid, query) in enumerate(queries.items()):
            union = pool.union(i)
            best = ranked(scores.of(qid, union), depth)
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
        pool = CandidatePool(self.retrieve(dataset, queries, known), dataset.corpus.ids, self.config)
        self._timed("candidates", started)

        started = time.perf_counter()
        teacher = load_teacher(self.config.teacher, dataset, lambda: self.encoder, self.embedding_cache)
        with ScoreCache(self.out / "cache" / "teacher.sqlite") as score_cache:
            pair_count, teacher_hits = score_pairs(
                teacher,
                score_cache,
                ((qid, pool.union(i) + sorted(known[qid])) for i, qid in enumerate(queries)),
                total=sum(pool.union_size(i) + len(known[qid]) for i, qid in enumerate(queries)),
            )
            scores = TeacherScores(score_cache, teacher.key)
            self._timed("teacher", started)

            started = time.perf_counter()
            grades, judge_entry = self.judge(dataset, queries, known, pool, scores)
            self._timed("judge", started)

            started = time.perf_counter()
            temperature, margin = DEFAULT_SCALES[teacher.kind]
            temperature = self.config.eci.temperature or temperature
            margin = margin if self.config.eci.margin is None else self.config.eci.margin
            selected = self.select(dataset, queries, known, pool, scores, grades, temperature, margin)
            self._timed("select", started)

        table = selected["eci"]
        chosen = max(table, key=lambda s: table[s]["as_mined"]["eci"]) if table else None
        with atomic_path(self.out / "train.jsonl") as tmp:
            if chosen is None:
                tmp.write_text("", encoding="utf-8")
            else:
                shutil.copyfile(self.out / "strategies" / f"{chosen}.jsonl", tmp)
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
                "pairs": pair_count,
                "cache_hits": teacher_hits,
            },
            "eci_scales": {"temperature": temperature, "margin": margin},
            "judge": judge_entry,
            "strategy": chosen,
            "eci": table,
            "counts": {**selected["counts"], "examples": selected["examples"]},
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
        known: dict[str, set[str]],
        pool: CandidatePool,
        scores: TeacherScores,
        grades: dict[str, dict[str, int]],
        temperature: float,
        margin: float,
    ) -> dict[str, Any]:
        """Positives and every strategy's negatives, query by query, each example written to its
        strategy's file as soon as it is built; returns the ECI table, the counts and the example count."""
        strategies = [s for s in self.config.strategies() if s == "teacher" or s in pool.strategies]
        counts: Counter[str] = Counter()
        per_strategy: dict[str, dict[str, list]] = {
            s: {"raw": [], "kept": [], "unsafe": []} for s in strategies
        }
        corpus = dataset.corpus
        examples = 0
        with ExitStack() as files:
            writers = {
                s: files.enter_context(open_training_file(self.out / "strategies" / f"{s}.jsonl"))
                for s in strategies
            }
            for i, qid in enumerate(tqdm(queries, desc="select", unit="query")):
                union = pool.union(i)
                teacher = scores.of(qid, union + sorted(known[qid]))
                qrels = {d: g for d, g in dataset.qrels.get(qid, {}).items() if d in corpus.position}
                positive_set = merge_positives(qrels, grades.get(qid, {}), teacher, self.config.positives)
                counts["conflicts"] += positive_set.conflicts
                counts["conflicts_dropped"] += positive_set.dropped
                if not positive_set.positives:
                    counts["queries_without_positives"] += 1
                    continue
                counts["queries_without_candidates"] += not union
                weakest = min(teacher[doc] for doc, _ in positive_set.positives)
                positive_texts = {_normalised(corpus.document(doc)) for doc, _ in positive_set.positives}
                duplicates = {doc for doc in union if _normalised(corpus.document(doc)) in positive_texts}
                counts["duplicates_of_positives"] += len(duplicates - positive_set.exclude)
                exclude = positive_set.exclude | duplicates
                positives = [
                    Positive(id=doc, text=corpus.document(doc), source=source, teacher_score=teacher[doc])
                    for doc, source in positive_set.positives
                ]
                for source, n in Counter(source for _, source in positive_set.positives).items():
                    counts[f"positives_{source}"] += n
                rankings = pool.rankings(i)
                for strategy in strategies:
                    selection = self._negatives(qid, strategy, rankings, union, teacher, weakest, exclude)
                    stats = per_strategy[strategy]
                    stats["raw"].append(
                        query_eci(weakest, [c.teacher_score for c in selection.raw], temperature, margin)
                    )
                    stats["kept"].append(
                        query_eci(
                            weakest, [c.teacher_score for c in selection.negatives], temperature, margin
                        )
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
                    writers[strategy].write(
                        TrainingExample(
                            query_id=qid, query=queries[qid], positives=positives, negatives=negatives
                        )
                    )
                examples += 1
        table = {s: _eci_entry(per_strategy[s], self.config.negatives.count) for s in strategies}
        return {"eci": table, "examples": examples, "counts": dict(sorted(counts.items()))}

    def _negatives(
        self,
        qid: str,
        strategy: Strategy,
        rankings: dict[Strategy, dict[str, float]],
        union: list[str],
        teacher: dict[str, float],
        weakest: float,
        exclude: set[str],
    ) -> Selection:
        """One strategy's negatives for ``qid`` (``teacher``: this query's teacher scores by passage)."""
        if strategy == "teacher":
            ordered = ranked({d: teacher[d] for d in union})
            ranking = [Candidate(d, "teacher", None, teacher[d]) for d in ordered]
        else:
            run = rankings[strategy]
            ordered = ranked(run)
            ranking = [Candidate(d, strategy, run[d], teacher[d]) for d in ordered]
        return select_negatives(qid, ranking, weakest, exclude, self.config.negatives)


class CandidatePool:
    """Per-query views of the candidate arrays: query ``i``'s ranking by each strategy (``bm25``, ``dense``
    and, with both, their ``hybrid`` fusion) and the union of its candidates, built when asked for."""

    def __init__(self, runs: dict[str, cand.CandidateArrays], ids: list[str], config: MineConfig) -> None:
        self._runs = runs
        self._ids = ids
        self._config = config
        self.strategies: set[Strategy] = {s for s in ("bm25", "dense") if s in runs}
        if {"bm25", "dense"} <= self.strategies:
            self.strategies.add("hybrid")

    def rankings(self, i: int) -> dict[Strategy, dict[str, float]]:
        rankings: dict[Strategy, dict[str, float]] = {
            s: self._runs[s].row(i, self._ids) for s in ("bm25", "dense") if s in self._runs
        }
        if "hybrid" in self.strategies:
            rankings["hybrid"] = cand.hybrid(rankings["dense"], rankings["bm25"], self._config.candidates)
        return rankings

    def _positions(self, i: int) -> set[int]:
        return {p for arrays in self._runs.values() for p in arrays.docs[i].tolist() if p >= 0}

    def union(self, i: int) -> list[str]:
        """Query ``i``'s candidates from every source, by doc id."""
        return sorted(self._ids[p] for p in self._positions(i))

    def union_size(self, i: int) -> int:
        return len(self._positions(i))


def _eci_entry(stats: dict[str, list], count: int) -> dict[str, Any]:
    raw: list[Eci] = stats["raw"]
    kept: list[Eci] = stats["kept"]
    return {
        "queries": len(raw),
        "as_mined": mean_eci(raw).as_dict(),
        "filtered": mean_eci(kept).as_dict(),
        "unsafe_dropped": int(sum(stats["unsafe"])),
        "queries_short_of_negatives": sum(1 for e in kept if e.k < count),
        "queries_without_negatives": sum(1 for e in kept if e.k == 0),
    }


def bi_encoder(config: MineConfig):
    """The candidates' bi-encoder (dense search, and the teacher when no cross-encoder is given)."""
    from retriever.retrieval.encoder import Encoder

    return Encoder(str(config.candidates.bi_encoder), config.candidates.encoder, progress=True)


def encode_on_all_ranks(config: MineConfig) -> bool:
    """Under torchrun, every rank encodes its shards of the corpus with the bi-encoder (dense candidates or
    the bi-encoder teacher) into the embedding cache (:mod:`retriever.distributed`); True on ranks other
    than 0, which then stop. False in one process."""
    from retriever import distributed
    from retriever.data.loader import load_dataset
    from retriever.retrieval.embedding_cache import EmbeddingCache

    needs_vectors = "dense" in config.sources() or not config.teacher.model
    return distributed.encode_then_release_workers(
        lambda: load_dataset(config.data, config.split).corpus,
        [lambda: bi_encoder(config)] if needs_vectors else [],
        EmbeddingCache(),
    )


def mine(config: MineConfig, out: str | Path, log: Log = _stderr) -> dict[str, Any]:
    """Run every phase of mining into ``out``; returns the manifest (also in ``out/manifest.json``)."""
    return Miner(config, out, log).run()
