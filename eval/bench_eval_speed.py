"""Is ``retriever eval`` as fast as plain sentence-transformers + FAISS, and is its cache worth it?

In one process, on SciFact test with the packaged all-MiniLM-L6-v2 (batch size 64 for both):

- plain: ``SentenceTransformer(...)``, ``encode`` the corpus (title + " " + text) and the queries, FAISS
  ``IndexFlatIP``, search top 1000;
- eval, cache cleared: :func:`retriever.eval.runner.evaluate` (model load, encode, index, search, metrics);
- eval again: the corpus vectors come from the embedding cache.

The machine's CPUs are shared, so load drifts during a run: ``--abba`` times plain, eval, eval, plain and
compares the sums, which cancels a linear drift. ``--docs N`` keeps the first N documents (a quicker run).
Prints both ratios: eval/plain (target <= 1.1) and cached/uncached eval (target <= 0.1). Usage:
``python eval/bench_eval_speed.py [--data ../shared/data/scifact] [--abba] [--docs N]``; exit code 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import faiss
import numpy as np
from sentence_transformers import SentenceTransformer

from retriever.data.dataset import Corpus
from retriever.data.loader import load_dataset
from retriever.eval.config import EvalConfig
from retriever.eval.runner import evaluate_systems
from retriever.retrieval.embedding_cache import EmbeddingCache
from retriever.retrieval.encoder import Encoder
from retriever.retrieval.models import resolve_model

ROOT = Path(__file__).resolve().parents[1]
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BATCH = 64


def plain(dataset, k: int = 1000) -> float:
    start = time.perf_counter()
    model = SentenceTransformer(resolve_model(MODEL), device="cpu")
    corpus = model.encode(dataset.corpus.joined(" "), batch_size=BATCH, show_progress_bar=True)
    queries = model.encode(list(dataset.judged_queries().values()), batch_size=BATCH)
    index = faiss.IndexFlatIP(corpus.shape[1])
    index.add(np.ascontiguousarray(corpus, dtype=np.float32))
    index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return time.perf_counter() - start


def through_eval(dataset, config: EvalConfig, clear: Path | None = None) -> tuple[float, dict]:
    if clear is not None:
        shutil.rmtree(clear, ignore_errors=True)
    start = time.perf_counter()
    report = evaluate_systems(config, dataset, config.models, source=config.data)
    return time.perf_counter() - start, report.systems[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    parser.add_argument("--abba", action="store_true", help="time plain, eval, eval, plain (drift-robust)")
    parser.add_argument("--docs", type=int, default=None, help="keep only the first N documents")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    dataset = load_dataset(str(args.data), "test")
    if args.docs is not None:
        corpus = dataset.corpus
        dataset.corpus = Corpus(
            corpus.ids[: args.docs], corpus.titles[: args.docs], corpus.texts[: args.docs]
        )
    print(f"{len(dataset.corpus)} documents, {len(dataset.judged_queries())} queries", flush=True)
    config = EvalConfig(
        data=str(args.data),
        models=[MODEL],
        retrievers=["dense"],
        encoder={"batch_size": BATCH, "device": "cpu"},
    )
    entry = EmbeddingCache(config.cache_dir).directory(
        Encoder(MODEL, config.encoder, progress=False), dataset.corpus
    )

    plain_times, eval_times = [], []
    for step in ("plain", "eval", "eval", "plain") if args.abba else ("plain", "eval"):
        if step == "plain":
            plain_times.append(plain(dataset))
            print(f"plain sentence-transformers + faiss flat: {plain_times[-1]:.1f} s", flush=True)
        else:
            seconds, first = through_eval(dataset, config, clear=entry)
            eval_times.append(seconds)
            print(
                f"retriever eval, cache cleared: {seconds:.1f} s  steps {_round(first.timings)}", flush=True
            )
    cached_seconds, cached = through_eval(dataset, config)
    print(f"retriever eval, cached: {cached_seconds:.1f} s  steps {_round(cached.timings)}", flush=True)
    assert cached.metrics == first.metrics, "the cached eval changed the metrics"

    eval_ratio = sum(eval_times) / sum(plain_times)
    cache_ratio = cached_seconds / (sum(eval_times) / len(eval_times))
    print(f"nDCG@10 {first.metrics['nDCG@10']:.4f}")
    print(f"ratio eval / plain = {eval_ratio:.3f} (target <= 1.1): {'PASS' if eval_ratio <= 1.1 else 'FAIL'}")
    print(
        f"ratio cached / uncached eval = {cache_ratio:.3f} (target <= 0.1): {'PASS' if cache_ratio <= 0.1 else 'FAIL'}"
    )
    return 0 if eval_ratio <= 1.1 and cache_ratio <= 0.1 else 1


def _round(timings: dict[str, float]) -> dict[str, float]:
    return {step: round(seconds, 2) for step, seconds in timings.items()}


if __name__ == "__main__":
    sys.exit(main())
