"""A real index served on loopback: results equal in-process search, concurrency batches encodes, and the
`retriever serve` command itself runs, authenticates and never prints the key."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from retriever.index.directory import load_index
from retriever.index.searchers import make_searcher
from retriever.retrieval.config import FeedbackConfig
from retriever.retrieval.ranking import ranked
from retriever.retrieval.search import bm25_search, dense_search, hybrid_search
from retriever.serve.app import create_app
from retriever.serve.config import ServeConfig
from retriever.serve.server import running_server
from tests.test_index_dir import QUERIES, built  # noqa: F401  (the module-scoped index fixture)


@pytest.fixture(scope="module")
def loaded(built):  # noqa: F811
    return load_index(built[2])


def in_process(loaded, retriever, queries, k, feedback=None):
    """What each retriever returns without the server, in the shared (trec_eval) order."""
    run = {
        "dense": lambda: dense_search(loaded.encoder, loaded.dense, queries, k, feedback),
        "bm25": lambda: bm25_search(loaded.bm25, queries, k),
        "hybrid": lambda: hybrid_search(
            loaded.encoder, loaded.dense, loaded.bm25, queries, k, feedback=feedback
        ),
    }[retriever]()
    return {qid: [(doc, run[qid][doc]) for doc in ranked(run[qid])] for qid in queries}


def assert_same_hits(result, expected):
    """Same documents in the same order, scores equal up to float32 JSON round trips."""
    assert [hit["id"] for hit in result["hits"]] == [doc for doc, _ in expected]
    assert [hit["score"] for hit in result["hits"]] == pytest.approx(
        [score for _, score in expected], rel=1e-5
    )


@pytest.mark.parametrize("retriever", ["dense", "bm25", "hybrid"])
def test_served_results_equal_in_process(loaded, retriever):
    config = ServeConfig(index_dir=".", retriever=retriever)
    app = create_app(make_searcher(loaded, retriever), loaded.documents, loaded.manifest, config)
    expected = in_process(loaded, retriever, QUERIES, 7)
    with running_server(app) as url:
        batch = httpx.post(
            f"{url}/search", json={"queries": list(QUERIES.values()), "k": 7}, timeout=60
        ).json()
        single = httpx.post(
            f"{url}/search", json={"query": QUERIES["q3"], "k": 7, "return_text": True}
        ).json()
        info = httpx.get(f"{url}/info").json()
    assert batch["retriever"] == retriever
    for qid, result in zip(QUERIES, batch["results"], strict=True):
        assert_same_hits(result, expected[qid])
    assert_same_hits(single["results"][0], expected["q3"])
    first = single["results"][0]["hits"][0]
    assert (first["title"], first["text"]) == loaded.documents.get([first["id"]])[0]
    assert info["corpus"]["documents"] == 40 and info["serving"]["retriever"] == retriever


@pytest.mark.parametrize("retriever", ["dense", "hybrid"])
def test_served_feedback_equals_in_process_feedback(loaded, retriever):
    feedback = FeedbackConfig(depth=2, weight=0.5)
    config = ServeConfig(index_dir=".", retriever=retriever, feedback=feedback)
    searcher = make_searcher(loaded, retriever, config.fusion, config.feedback)
    app = create_app(searcher, loaded.documents, loaded.manifest, config)
    expected = in_process(loaded, retriever, QUERIES, 7, feedback)
    assert expected != in_process(loaded, retriever, QUERIES, 7)
    with running_server(app) as url:
        batch = httpx.post(f"{url}/search", json={"queries": list(QUERIES.values()), "k": 7}, timeout=60)
        info = httpx.get(f"{url}/info").json()
    for qid, result in zip(QUERIES, batch.json()["results"], strict=True):
        assert_same_hits(result, expected[qid])
    assert info["serving"]["feedback"] == {"depth": 2, "weight": 0.5}


def test_concurrent_clients_share_encodes(loaded, monkeypatch):
    calls = []
    original = loaded.encoder.encode_queries

    def counted(texts):
        calls.append(len(texts))
        time.sleep(0.02)  # a realistic encode time, so requests pile up behind it
        return original(texts)

    monkeypatch.setattr(loaded.encoder, "encode_queries", counted)
    config = ServeConfig(index_dir=".", max_batch=16, max_wait_ms=10)
    app = create_app(make_searcher(loaded, "dense"), loaded.documents, loaded.manifest, config)
    queries = [QUERIES[f"q{i % 12}"] + f" {'protein' if i % 2 else 'cell'}" for i in range(32)]

    async def clients(url):
        async with httpx.AsyncClient(timeout=60) as client:
            posts = [client.post(f"{url}/search", json={"query": q, "k": 5}) for q in queries]
            return await asyncio.gather(*posts)

    with running_server(app) as url:
        responses = asyncio.run(clients(url))
    assert [r.status_code for r in responses] == [200] * 32
    monkeypatch.setattr(loaded.encoder, "encode_queries", original)
    expected = in_process(loaded, "dense", {str(i): q for i, q in enumerate(queries)}, 5)
    for i, response in enumerate(responses):
        assert_same_hits(response.json()["results"][0], expected[str(i)])
    assert sum(calls) == 32 and len(calls) < 32 / 2, calls  # batched: far fewer encodes than requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_command_end_to_end(built):  # noqa: F811
    key = "k3y-that-must-not-leak"
    port = free_port()
    env = {**os.environ, "RETRIEVER_API_KEY": key, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "retriever.cli", "serve", str(built[2]), "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        body = {"query": QUERIES["q1"], "k": 3}
        assert httpx.post(f"{url}/search", json=body).status_code == 401
        response = httpx.post(f"{url}/search", json=body, headers={"X-API-Key": key})
        assert response.status_code == 200 and len(response.json()["results"][0]["hits"]) == 3
        assert (
            httpx.post(f"{url}/search", json={**body, "k": 100000}, headers={"X-API-Key": key}).status_code
            == 422
        )
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert "serving 40 documents (dense, API key required) on 127.0.0.1" in output
    assert key not in output


def test_hybrid_searcher_uses_the_fusion_settings(loaded):
    from retriever.retrieval.config import FusionConfig

    fusion = FusionConfig(method="interpolation", alpha=0.3)
    served = make_searcher(loaded, "hybrid", fusion).search(list(QUERIES.values()), 5)
    run = hybrid_search(loaded.encoder, loaded.dense, loaded.bm25, QUERIES, 5, fusion)
    default = make_searcher(loaded, "hybrid").search(list(QUERIES.values()), 5)
    for qid, hits in zip(QUERIES, served, strict=True):
        assert hits == [(doc, run[qid][doc]) for doc in ranked(run[qid])]
    assert served != default  # interpolation and RRF scores differ


def test_an_unknown_log_level_is_refused_before_the_index_loads(tmp_path):
    from tests.test_train_cli import invoke

    result = invoke("serve", tmp_path / "no-index", "--log-level", "loud")
    assert result.exit_code == 2 and "Traceback" not in result.output and "log_level" in result.output
    assert "index directory" not in result.output  # refused by the config, before any loading


def test_a_recipe_asks_its_served_index_with_its_feedback(loaded):
    from retriever.recipe import SampleQueries
    from retriever.serve.demo import ask_served_index

    feedback = FeedbackConfig(depth=2, weight=0.5)
    sample = SampleQueries(queries=list(QUERIES.values()), k=4, feedback=feedback)
    results = ask_served_index(loaded.directory, sample)
    expected = in_process(loaded, "dense", QUERIES, 4, feedback)
    assert expected != in_process(loaded, "dense", QUERIES, 4)  # the feedback changes these hits
    for qid, result in zip(QUERIES, results, strict=True):
        assert_same_hits(result, expected[qid])
