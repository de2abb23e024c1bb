"""Serving load test: queries per second and p50/p99 latency over loopback HTTP with 1, 8 and 32 concurrent
clients, against in-process search of the same queries.

Setup: SciFact (``../shared/data/scifact``) test queries, the packaged all-MiniLM-L6-v2, a flat FAISS index
built with ``retriever index`` into ``~/.cache/retriever/indexes/scifact-minilm`` (outside the repository;
the corpus vectors come from the embedding cache when ``retriever eval`` has encoded SciFact before; otherwise the build encodes it once).
``--retriever bm25`` needs no corpus encoding.

Measures, in this order (plus nDCG@k/Recall@k of the index directory's results, a check that the served
index is the one `retriever eval` scores: 0.6451 nDCG@10 for this model on SciFact):

1. in-process, one query at a time through the same searcher the server uses (``searcher.search([q], k)``):
   queries/s and p50/p99 latency; and one call with all queries (the batched throughput ceiling);
2. ``retriever serve`` started as a subprocess on 127.0.0.1, then for each concurrency level C, C async
   clients (httpx) send single-query ``POST /search`` requests until every query was sent ``--rounds`` times
   or ``--time-limit`` seconds passed; each response must be 200 and its top-k ids equal in-process top-k
   ids for that query (counted as mismatches otherwise).

Prints a table (and writes ``eval/output/serve_load_<retriever>.json``): per level qps, p50/p99 ms, errors,
mismatches, and the ratio served qps / in-process single-query qps (the mean of a run before and one after
the served levels, since other load on the machine moves both). Exit code 1 on any error or mismatch.
Usage: ``python eval/bench_serve_load.py [--retriever dense|bm25] [--levels 1 8 32] [--rounds 1]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "eval" / "output"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def percentiles(latencies: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    values = np.asarray(latencies) * 1000
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def ensure_index(args) -> Path:
    from retriever.index.config import IndexBuildConfig
    from retriever.index.directory import build_index
    from retriever.retrieval.config import BM25Config

    if (args.index_dir / "manifest.json").is_file():
        return args.index_dir
    start = time.perf_counter()
    config = IndexBuildConfig(model=args.model, data=str(args.data), output=args.index_dir, bm25=BM25Config())
    build_index(config)
    print(f"built {args.index_dir} in {time.perf_counter() - start:.1f}s", flush=True)
    return args.index_dir


def in_process(searcher, queries: list[str], k: int) -> dict:
    searcher.search(queries[:8], k)  # warm-up
    latencies, top = [], []
    start = time.perf_counter()
    for query in queries:
        began = time.perf_counter()
        top.append(searcher.search([query], k)[0])
        latencies.append(time.perf_counter() - began)
    elapsed = time.perf_counter() - start
    began = time.perf_counter()
    batched = searcher.search(queries, k)
    batch_seconds = time.perf_counter() - began
    assert [[doc for doc, _ in hits] for hits in batched] == [[doc for doc, _ in hits] for hits in top], (
        "batched and single-query search disagree"
    )
    p50, p99 = percentiles(latencies)
    return {
        "qps": len(queries) / elapsed,
        "p50_ms": p50,
        "p99_ms": p99,
        "batched_qps": len(queries) / batch_seconds,
        "top": top,
    }


def on_worker_thread(function, *args):
    """Run ``function`` on a fresh thread, as the server's micro-batcher does. On this 2-core, shared machine
    torch's intra-op thread team on the main thread was ~8x slower per single-query encode (189 vs 24 ms
    p50) than on a worker thread, which would flatter the server; measure both paths the same way."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def report_in_process(when: str, stats: dict, args, count: int) -> None:
    print(
        f"in-process {when} ({args.retriever}, {count} queries, k={args.k}): {stats['qps']:.1f} q/s one at a "
        f"time (p50 {stats['p50_ms']:.1f} ms, p99 {stats['p99_ms']:.1f} ms); {stats['batched_qps']:.1f} q/s "
        "in one batch",
        flush=True,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(index_dir: Path, retriever: str, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "retriever.cli", "serve", str(index_dir), "--port", str(port)]
    command += ["--retriever", retriever, "--log-level", "warning"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with code {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.5)
    process.terminate()
    raise SystemExit("server did not start within 300 s")


async def load(url: str, queries: list[str], top: list[list[str]], k: int, clients: int, args) -> dict:
    """``clients`` concurrent workers share a queue of query indices; returns the level's statistics."""
    jobs: asyncio.Queue[int] = asyncio.Queue()
    for _ in range(args.rounds):
        for i in range(len(queries)):
            jobs.put_nowait(i)
    latencies: list[float] = []
    errors: list[str] = []
    mismatches = 0
    deadline = time.perf_counter() + args.time_limit

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal mismatches
        while time.perf_counter() < deadline and not jobs.empty():
            i = jobs.get_nowait()
            began = time.perf_counter()
            try:
                response = await client.post(f"{url}/search", json={"query": queries[i], "k": k})
            except httpx.HTTPError as exc:
                errors.append(type(exc).__name__)
                continue
            latencies.append(time.perf_counter() - began)
            if response.status_code != 200:
                errors.append(str(response.status_code))
            elif [hit["id"] for hit in response.json()["results"][0]["hits"]] != top[i]:
                mismatches += 1

    # one AsyncClient (one keep-alive connection) per simulated client: a single shared httpx pool was
    # itself the bottleneck at 32 concurrent requests (134 vs 318 q/s on BM25)
    own = [httpx.AsyncClient(timeout=120) for _ in range(clients)]
    try:
        warm = [
            client.post(f"{url}/search", json={"query": queries[i % len(queries)], "k": k})
            for i, client in enumerate(own)
        ]
        await asyncio.gather(*warm)  # open the connections before the clock starts
        start = time.perf_counter()
        deadline = start + args.time_limit
        await asyncio.gather(*(worker(client) for client in own))
        elapsed = time.perf_counter() - start
    finally:
        for client in own:
            await client.aclose()
    p50, p99 = percentiles(latencies)
    return {
        "clients": clients,
        "requests": len(latencies),
        "qps": len(latencies) / elapsed,
        "p50_ms": p50,
        "p99_ms": p99,
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "mismatches": mismatches,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    parser.add_argument(
        "--index-dir", type=Path, default=Path.home() / ".cache" / "retriever" / "indexes" / "scifact-minilm"
    )
    parser.add_argument("--retriever", choices=["dense", "bm25"], default="dense")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32], help="Concurrent clients.")
    parser.add_argument("--rounds", type=int, default=1, help="Times each query is sent per level.")
    parser.add_argument("--time-limit", type=float, default=120.0, help="Seconds per level at most.")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--model", default=MODEL, help="Model used when the index is built here.")
    parser.add_argument("--max-queries", type=int, default=None, help="Use only the first N test queries.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from retriever.data.loader import load_dataset
    from retriever.eval.metrics import evaluate_run
    from retriever.index.directory import load_index
    from retriever.index.searchers import make_searcher

    index_dir = ensure_index(args)
    dataset = load_dataset(str(args.data), "test")
    judged = dict(list(dataset.judged_queries().items())[: args.max_queries])
    queries = list(judged.values())
    loaded = load_index(index_dir)
    searcher = make_searcher(loaded, args.retriever)
    before = on_worker_thread(in_process, searcher, queries, args.k)
    hits = before.pop("top")
    top = [[doc for doc, _ in query_hits] for query_hits in hits]
    run = {qid: dict(query_hits) for qid, query_hits in zip(judged, hits, strict=True)}
    quality = evaluate_run(dataset.qrels, run, [f"nDCG@{args.k}", f"Recall@{args.k}"]).mean
    print(f"served index quality (in-process search of the index directory): {quality}", flush=True)
    report_in_process("before", before, args, len(queries))

    port = free_port()
    server = start_server(index_dir, args.retriever, port)
    try:
        levels = [
            asyncio.run(load(f"http://127.0.0.1:{port}", queries, top, args.k, clients, args))
            for clients in args.levels
        ]
    finally:
        server.terminate()
        server.wait(timeout=60)
    after = on_worker_thread(in_process, searcher, queries, args.k)
    assert [[d for d, _ in h] for h in after.pop("top")] == top, "in-process results changed between runs"
    report_in_process("after", after, args, len(queries))
    baseline = {"before": before, "after": after, "qps": (before["qps"] + after["qps"]) / 2}

    print(
        f"\n{'clients':>7} {'requests':>8} {'q/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
        f"{'mismatch':>8} {'vs in-process':>13}"
    )
    for level in levels:
        level["ratio_to_in_process"] = level["qps"] / baseline["qps"]
        print(
            f"{level['clients']:>7} {level['requests']:>8} {level['qps']:>8.1f} {level['p50_ms']:>8.1f} "
            f"{level['p99_ms']:>8.1f} {level['errors']:>6} {level['mismatches']:>8} "
            f"{level['ratio_to_in_process']:>12.2f}x"
        )
    result = {
        "retriever": args.retriever,
        "model": loaded.manifest["model"]["name"],
        "queries": len(queries),
        "quality": quality,
        "k": args.k,
        "cpu_count": os.cpu_count(),
        "in_process": baseline,
        "served": levels,
    }
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / f"serve_load_{args.retriever}.json").write_text(json.dumps(result, indent=2))
    failed = any(level["errors"] or level["mismatches"] for level in levels)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
