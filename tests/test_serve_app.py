"""The HTTP app on a real uvicorn server on loopback, over a small word-overlap searcher.

Covers the request/response contract, auth, limits, bad bodies (the server keeps serving after each),
micro-batching under concurrency and a /health that answers while a search runs.
"""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from retriever.serve.app import create_app
from retriever.serve.batching import MicroBatcher
from retriever.serve.config import ServeConfig
from retriever.serve.server import running_server

DOCS = {f"d{i}": (f"title {i}", " ".join(f"w{(i * j) % 23}" for j in range(1, 8))) for i in range(30)}
KEY = "s3cret-key"


class OverlapSearcher:
    """Score = number of shared words (ties by doc id); counts calls and sizes; optional delay per call."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[int] = []
        self.lock = threading.Lock()

    def search(self, queries, k):
        with self.lock:
            self.calls.append(len(queries))
        time.sleep(self.delay)
        return [self.one(query, k) for query in queries]

    @staticmethod
    def one(query, k):
        words = set(query.split())
        scored = [(doc_id, float(len(words & set(text.split())))) for doc_id, (_, text) in DOCS.items()]
        return sorted(scored, key=lambda hit: (-hit[1], hit[0]))[:k]


class Documents:
    def __len__(self):
        return len(DOCS)

    def get(self, doc_ids):
        return [DOCS[doc_id] for doc_id in doc_ids]


def serve(searcher, **settings):
    config = ServeConfig(index_dir=".", **{"max_k": 20, "max_query_chars": 50, "max_batch": 8, **settings})
    app = create_app(searcher, Documents(), {"model": {"name": "overlap"}, "versions": {}}, config)
    return running_server(app)


@pytest.fixture(scope="module")
def server():
    searcher = OverlapSearcher()
    with serve(searcher, api_key=KEY) as url:
        yield url, searcher


def post(url, body=None, key=KEY, headers=None):
    headers = {**({"Authorization": f"Bearer {key}"} if key else {}), **(headers or {})}
    return httpx.post(f"{url}/search", json=body, headers=headers, timeout=30)


def test_search_matches_in_process(server):
    url, _ = server
    queries = ["w1 w2 w3", "w5 w7", "nothing here"]
    response = post(url, {"queries": queries, "k": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["retriever"] == "dense" and body["took_ms"] >= 0
    for query, result in zip(queries, body["results"], strict=True):
        assert result["query"] == query
        assert [(h["id"], h["score"]) for h in result["hits"]] == OverlapSearcher.one(query, 5)
        assert [h["rank"] for h in result["hits"]] == [1, 2, 3, 4, 5]
        assert all("text" not in h for h in result["hits"])


def test_single_query_and_return_text(server):
    url, _ = server
    result = post(url, {"query": "w4 w8", "k": 2, "return_text": True}).json()["results"]
    assert len(result) == 1
    for hit in result[0]["hits"]:
        assert (hit["title"], hit["text"]) == DOCS[hit["id"]]


def test_auth(server):
    url, _ = server
    body = {"query": "w1"}
    assert post(url, body, key=None).status_code == 401
    assert post(url, body, key="wrong").status_code == 401
    assert post(url, body, key=KEY + "x").status_code == 401
    assert post(url, body, key=None, headers={"X-API-Key": KEY}).status_code == 200
    assert post(url, body, key=None, headers={"X-API-Key": "nope"}).status_code == 401
    assert httpx.get(f"{url}/info").status_code == 401
    info = httpx.get(f"{url}/info", headers={"X-API-Key": KEY}).json()
    assert info["model"] == {"name": "overlap"} and info["serving"]["max_k"] == 20
    assert KEY not in str(info)
    assert httpx.get(f"{url}/health").json() == {"status": "ok", "documents": len(DOCS)}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "w1", "k": 0}, 422),
        ({"query": "w1", "k": 100000}, 422),
        (
            {"query": "w" * 1_000_000},
            413,
        ),  # over this server's largest valid body (defaults: 422, see e2e test)
        ({"query": "w" * 51}, 422),
        ({"queries": ["w1"] * 9}, 422),
        ({"queries": []}, 422),
        ({"query": ""}, 422),
        ({"k": 3}, 422),
        ({"query": "w1", "queries": ["w2"]}, 422),
        ({"query": 5}, 422),
        ({"query": "w1", "unknown": 1}, 422),
        ([1, 2], 422),
    ],
)
def test_limits_and_bad_bodies_then_still_serving(server, body, code):
    url, _ = server
    response = post(url, body)
    assert response.status_code == code, response.text
    assert post(url, {"query": "w1"}).status_code == 200


@pytest.mark.parametrize(("raw", "code"), [(b"{not json", 400), (b'{"query": "w1"', 400), (b"", 422)])
def test_malformed_or_missing_json(server, raw, code):
    url, _ = server
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    assert httpx.post(f"{url}/search", content=raw, headers=headers).status_code == code
    assert post(url, {"query": "w1"}).status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        b'{"query": "a", "k": 1e400}',  # read as infinity: cannot be echoed as JSON
        b'{"query": "a", "k": NaN}',
        b'{"query": "a", "k": Infinity}',
        b'{"query": "\\ud800"}',  # a lone surrogate
        b'{"queries": ["w1", "\\udfff"]}',
    ],
)
def test_unserialisable_or_invalid_values_are_small_422s(server, raw):
    url, _ = server
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    response = httpx.post(f"{url}/search", content=raw, headers=headers)
    assert response.status_code == 422, response.text
    assert all(set(error) == {"loc", "msg", "type"} for error in response.json()["detail"])
    assert post(url, {"query": "w1"}).status_code == 200


def test_a_422_never_echoes_the_input(server):
    url, _ = server
    response = post(url, {"query": "w" * 51 + "needle"})
    assert response.status_code == 422 and "needle" not in response.text and len(response.content) < 1000


def test_chunked_bodies_are_capped_and_unauthenticated_ones_never_read(server):
    url, _ = server
    sent = 0

    def chunks(total: int):
        nonlocal sent
        yield b'{"query": "w1", "padding": "'
        while sent < total:
            sent += 65_536
            yield b"x" * 65_536
        yield b'"}'

    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    with httpx.Client(timeout=30) as client:
        response = client.post(f"{url}/search", content=chunks(8_000_000), headers=headers)
        assert response.status_code == 413  # no Content-Length: counted while streaming
        sent = 0
        try:
            refused = client.post(f"{url}/search", content=chunks(60_000_000), headers={"X-API-Key": "no"})
            assert refused.status_code == 401
        except httpx.HTTPError:
            pass  # the server may close the connection while the client is still sending
    assert sent < 60_000_000  # answered (and closed) long before a 60 MB upload could finish
    assert post(url, {"query": "w1"}).status_code == 200


def test_oversized_body_is_refused_before_reading(server):
    url, _ = server
    body = {"queries": ["w" * 50] * 8, "padding": "x" * 2_000_000}
    assert post(url, body).status_code == 413
    assert post(url, {"query": "w1"}).status_code == 200


def test_openapi_describes_limits(server):
    url, _ = server
    schema = httpx.get(f"{url}/openapi.json").json()
    request = schema["components"]["schemas"]["SearchRequest"]["properties"]
    assert request["k"]["maximum"] == 20
    assert "/search" in schema["paths"] and "/health" in schema["paths"]


async def _concurrent(url, queries, k=4):
    async with httpx.AsyncClient(timeout=60) as client:
        headers = {"Authorization": f"Bearer {KEY}"}
        return await asyncio.gather(
            *(client.post(f"{url}/search", json={"query": q, "k": k}, headers=headers) for q in queries)
        )


@pytest.mark.parametrize("wait_ms", [0, 20])
def test_concurrent_clients_are_batched_and_answered_correctly(wait_ms):
    """With a window, or with none (requests queue while the previous batch runs), 32 requests share batches."""
    searcher = OverlapSearcher(delay=0.05)
    queries = [f"w{i % 23} w{(i * 5) % 23}" for i in range(32)]
    with serve(searcher, api_key=KEY, max_wait_ms=wait_ms) as url:
        responses = asyncio.run(_concurrent(url, queries))
    assert [r.status_code for r in responses] == [200] * 32
    for query, response in zip(queries, responses, strict=True):
        hits = response.json()["results"][0]["hits"]
        assert [(h["id"], h["score"]) for h in hits] == OverlapSearcher.one(query, 4)
    assert sum(searcher.calls) == 32
    assert len(searcher.calls) < 16, searcher.calls  # 32 requests, batches of up to 8: far fewer calls
    assert max(searcher.calls) > 1


def test_health_answers_while_a_search_runs():
    searcher = OverlapSearcher(delay=1.0)
    with serve(searcher) as url:
        slow = threading.Thread(target=post, args=(url, {"query": "w1"}))
        slow.start()
        while not searcher.calls:
            time.sleep(0.01)
        start = time.perf_counter()
        assert httpx.get(f"{url}/health").status_code == 200
        assert time.perf_counter() - start < 0.5
        slow.join()


def test_searcher_error_fails_only_that_batch():
    class Flaky(OverlapSearcher):
        def search(self, queries, k):
            if any("boom" in q for q in queries):
                raise RuntimeError("boom")
            return super().search(queries, k)

    with serve(Flaky(), max_wait_ms=0) as url:
        assert post(url, {"query": "boom"}, key=None).status_code == 500
        assert post(url, {"query": "w1"}, key=None).status_code == 200


def test_batcher_splits_results_and_respects_each_k():
    searcher = OverlapSearcher()
    batcher = MicroBatcher(searcher.search, max_batch=4, max_wait_ms=50)

    async def run():
        await batcher.start()
        try:
            return await asyncio.gather(
                batcher.search(["w1", "w2"], 2),
                batcher.search(["w3"], 5),
                batcher.search(["w4", "w5"], 1),  # would overflow 4 -> next batch
            )
        finally:
            await batcher.stop()

    first, second, third = asyncio.run(run())
    assert first == [OverlapSearcher.one("w1", 2), OverlapSearcher.one("w2", 2)]
    assert second == [OverlapSearcher.one("w3", 5)]
    assert third == [OverlapSearcher.one("w4", 1), OverlapSearcher.one("w5", 1)]
    assert searcher.calls == [3, 2]


def test_small_responses_are_not_delayed_by_nagle(server):
    """Round trips stay far below the ~40 ms that Nagle + delayed ACK add without TCP_NODELAY."""
    url, _ = server
    with httpx.Client() as client:
        client.get(f"{url}/health")
        times = []
        for _ in range(15):
            start = time.perf_counter()
            client.get(f"{url}/health")
            times.append(time.perf_counter() - start)
    assert sorted(times)[len(times) // 2] < 0.02, times
