"""The HTTP API for retrieval-augmented generation over a loaded index (FastAPI).

Endpoints:

- ``POST /search`` with ``{"query": str}`` or ``{"queries": [str, ...]}``, ``k`` (1..max_k, default 10) and
  ``return_text`` (default false) -> ``{"retriever", "took_ms", "results": [{"query", "hits": [{"rank", "id",
  "score", "title"?, "text"?}]}]}``, one result per query in request order, hits best first.
- ``GET /health`` -> ``{"status": "ok", "documents": n}`` (never needs a key).
- ``GET /info`` -> the index manifest and the serving limits (never the key).
- ``/docs`` and ``/openapi.json``: the generated OpenAPI description (limits included).

Status codes: 401 when an API key is configured and the request carries none or a wrong one
(``Authorization: Bearer KEY`` or ``X-API-Key: KEY``; compared in constant time; decided from the headers,
before any body is read), 413 for a body longer than any valid request (declared or streamed), 400 for a
body that is not JSON, 422 for a body that breaks the schema or a limit (``k``, query length, number of
queries, text that is not valid Unicode), with a small body that never echoes the input
(:mod:`retriever.serve.guard`). Searches go through a
:class:`~retriever.serve.batching.MicroBatcher`, so concurrent requests share one encode and one index search.
"""

import time
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, HTTPException, Security, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from retriever import __version__
from retriever.serve.batching import MicroBatcher
from retriever.serve.config import ServeConfig
from retriever.serve.guard import UNAUTHORIZED, RequestGuard, key_matches, validation_error

Hit = tuple[str, float]  # (doc id, score)


class Searcher(Protocol):
    """What the app serves: a batch of query texts -> per query, up to ``k`` (doc id, score), best first."""

    def search(self, queries: list[str], k: int) -> Sequence[Sequence[Hit]]: ...


class Documents(Protocol):
    """Document texts by id, for ``return_text``."""

    def __len__(self) -> int: ...

    def get(self, doc_ids: Sequence[str]) -> list[tuple[str, str]]: ...  # (title, text) per id


class HitOut(BaseModel):
    rank: int = Field(description="1-based rank.")
    id: str = Field(description="Document id.")
    score: float = Field(description="Retriever score (inner product, BM25 or fused).")
    title: str | None = Field(None, description="Document title (with return_text).")
    text: str | None = Field(None, description="Document text (with return_text).")


class QueryResult(BaseModel):
    query: str
    hits: list[HitOut]


class SearchResponse(BaseModel):
    retriever: str
    took_ms: float = Field(description="Server-side time for this request, in milliseconds.")
    results: list[QueryResult]


def _encodable(text: str) -> str:
    """Reject text that UTF-8 cannot carry (a lone surrogate such as ``\\ud800`` from a JSON escape)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text is not valid Unicode (lone surrogate)") from None
    return text


def search_request_model(config: ServeConfig) -> type[BaseModel]:
    """The request schema with this server's limits (so they appear in the OpenAPI description)."""
    query_text = Annotated[
        str,
        StringConstraints(min_length=1, max_length=config.max_query_chars),
        AfterValidator(_encodable),
    ]

    class SearchRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")

        query: query_text | None = Field(None, description="One query (or use `queries`).")
        queries: Annotated[list[query_text], Field(min_length=1, max_length=config.max_batch)] | None = Field(
            None, description=f"Up to {config.max_batch} queries."
        )
        k: int = Field(10, ge=1, le=config.max_k, description="Hits per query.")
        return_text: bool = Field(False, description="Include each hit's title and text.")

        @model_validator(mode="after")
        def _exactly_one(self) -> "SearchRequest":
            if (self.query is None) == (self.queries is None):
                raise ValueError("give exactly one of 'query' or 'queries'")
            return self

        def texts(self) -> list[str]:
            return [self.query] if self.query is not None else list(self.queries or [])

    return SearchRequest


def api_key_check(config: ServeConfig) -> Callable[..., None]:
    """A dependency that accepts the request when no key is set, or when Bearer/X-API-Key matches it."""
    bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
    header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key")
    expected = config.api_key.get_secret_value().encode() if config.api_key else None

    def check(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
        key: Annotated[str | None, Security(header)],
    ) -> None:
        if not key_matches(expected, [credentials.credentials if credentials else None, key]):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"}
            )

    return check


def create_app(
    searcher: Searcher, documents: Documents, info: dict[str, Any], config: ServeConfig
) -> FastAPI:
    """The FastAPI app; its lifespan starts and stops the micro-batcher."""
    batcher: MicroBatcher[Hit] = MicroBatcher(
        searcher.search, max_batch=config.max_batch, max_wait_ms=config.max_wait_ms
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(
        title="retriever",
        summary="Dense, BM25 or hybrid retrieval over a saved index, for retrieval-augmented generation.",
        version=__version__,
        lifespan=lifespan,
    )
    app.state.batcher = batcher
    app.add_exception_handler(RequestValidationError, validation_error)
    # 12 bytes per char: a JSON \\uXXXX escape pair is 12 bytes for one astral character
    max_body = config.max_batch * config.max_query_chars * 12 + 65_536
    api_key = config.api_key.get_secret_value().encode() if config.api_key else None
    app.add_middleware(RequestGuard, max_body=max_body, api_key=api_key, protected={"/search", "/info"})

    SearchRequest = search_request_model(config)
    authorized = [Depends(api_key_check(config))]
    public_info = {
        **info,
        "serving": {
            "retriever": config.retriever,
            "fusion": config.fusion.model_dump() if config.retriever == "hybrid" else None,
            "feedback": config.feedback.model_dump() if config.retriever != "bm25" else None,
            "max_k": config.max_k,
            "max_query_chars": config.max_query_chars,
            "max_batch": config.max_batch,
            "auth": config.api_key is not None,
        },
    }

    @app.post(
        "/search", response_model=SearchResponse, response_model_exclude_none=True, dependencies=authorized
    )
    async def search(request: SearchRequest) -> SearchResponse:  # type: ignore[valid-type]
        """Top-k documents for each query."""
        start = time.perf_counter()
        queries = request.texts()
        ranked = await batcher.search(queries, request.k)
        results = []
        for query, hits in zip(queries, ranked, strict=True):
            texts = documents.get([doc_id for doc_id, _ in hits]) if request.return_text else None
            results.append(
                QueryResult(
                    query=query,
                    hits=[
                        HitOut(
                            rank=rank,
                            id=doc_id,
                            score=score,
                            title=texts[rank - 1][0] if texts else None,
                            text=texts[rank - 1][1] if texts else None,
                        )
                        for rank, (doc_id, score) in enumerate(hits, start=1)
                    ],
                )
            )
        took = (time.perf_counter() - start) * 1000
        return SearchResponse(retriever=config.retriever, took_ms=round(took, 3), results=results)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness: answers while searches run (encoding happens in a worker thread)."""
        return {"status": "ok", "documents": len(documents)}

    @app.get("/info", dependencies=authorized)
    async def index_info() -> dict[str, Any]:
        """The index manifest (model, dimension, similarity, index type, corpus) and the serving limits."""
        return public_info

    return app
