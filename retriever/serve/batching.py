"""Micro-batching: concurrent search requests share one encode + one index search.

Contract: :meth:`MicroBatcher.search` enqueues ``(queries, k)`` and awaits its own results. One background
task takes the first waiting request, then keeps collecting requests for at most ``max_wait_ms`` or until
``max_batch`` queries are gathered (a request that would overflow the batch starts the next one; a request is
never split), runs ``search_fn(all_queries, max(k))`` once in a worker thread (so the event loop keeps
accepting requests and answering ``/health`` while the model encodes), and hands each request the slice of
results that belongs to it, cut to its own ``k``. Requests arriving while a batch runs are batched together
next, so the batch size grows with the load even with ``max_wait_ms=0`` (the default: no added latency for
a lone client; a positive window trades latency for fuller batches). An exception in ``search_fn`` fails exactly the requests of
that batch; the loop keeps serving. A cancelled request (client gone) is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

Hit = TypeVar("Hit")
SearchFn = Callable[[list[str], int], Sequence[Sequence[Hit]]]

POLL_SECONDS = 0.0005


@dataclass
class _Request(Generic[Hit]):
    queries: list[str]
    k: int
    future: asyncio.Future[list[list[Hit]]]


class MicroBatcher(Generic[Hit]):
    """Collects concurrent requests into batches of at most ``max_batch`` queries for ``search_fn``."""

    def __init__(self, search_fn: SearchFn, *, max_batch: int = 64, max_wait_ms: float = 0.0) -> None:
        if max_batch < 1 or max_wait_ms < 0:
            raise ValueError("max_batch must be >= 1 and max_wait_ms >= 0")
        self.search_fn = search_fn
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.batches_run = 0
        self._queue: asyncio.Queue[_Request[Hit]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        """Start the batching loop on the running event loop (idempotent)."""
        if self._task is None:
            self._queue = asyncio.Queue()
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="retriever-search")
            self._task = asyncio.create_task(self._loop(), name="retriever-micro-batcher")

    async def stop(self) -> None:
        """Stop the loop; requests still queued fail with ``RuntimeError``."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        assert self._queue is not None and self._executor is not None
        pending = [self._queue.get_nowait() for _ in range(self._queue.qsize())]
        _fail(pending, RuntimeError("server is shutting down"))
        self._executor.shutdown(wait=True)
        self._task = self._queue = self._executor = None

    async def search(self, queries: list[str], k: int) -> list[list[Hit]]:
        """The top-``k`` hits of each query (in order), computed in a shared batch."""
        if self._queue is None:
            raise RuntimeError("MicroBatcher.start() was not awaited")
        if not 1 <= len(queries) <= self.max_batch:
            raise ValueError(f"a request carries 1 to {self.max_batch} queries, got {len(queries)}")
        future: asyncio.Future[list[list[Hit]]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Request(list(queries), k, future))
        return await future

    async def _loop(self) -> None:
        assert self._queue is not None
        carried: _Request[Hit] | None = None
        while True:
            first = carried or await self._queue.get()
            carried = None
            batch, size = [first], len(first.queries)
            await asyncio.sleep(0)  # let requests already received (parsed in this loop turn) reach the queue
            deadline = asyncio.get_running_loop().time() + self.max_wait
            while size < self.max_batch:
                if self._queue.empty():
                    if asyncio.get_running_loop().time() >= deadline:
                        break
                    await asyncio.sleep(POLL_SECONDS)
                    continue
                request = self._queue.get_nowait()
                if size + len(request.queries) > self.max_batch:
                    carried = request
                    break
                batch.append(request)
                size += len(request.queries)
            await self._run(batch)

    async def _run(self, batch: list[_Request[Hit]]) -> None:
        batch = [request for request in batch if not request.future.done()]
        if not batch:
            return
        queries = [query for request in batch for query in request.queries]
        k = max(request.k for request in batch)
        loop = asyncio.get_running_loop()
        self.batches_run += 1
        try:
            results = await loop.run_in_executor(self._executor, self.search_fn, queries, k)
        except asyncio.CancelledError:
            _fail(batch, RuntimeError("server is shutting down"))
            raise
        except Exception as exc:  # fail this batch's requests, keep the loop alive
            _fail(batch, exc)
            return
        start = 0
        for request in batch:
            mine = results[start : start + len(request.queries)]
            start += len(request.queries)
            if not request.future.done():
                request.future.set_result([list(hits[: request.k]) for hits in mine])


def _fail(requests: list[_Request[Hit]], exc: BaseException) -> None:
    for request in requests:
        if not request.future.done():
            request.future.set_exception(exc)
