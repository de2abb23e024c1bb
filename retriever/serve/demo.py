"""Send sample queries to a served index over loopback HTTP and print the hits (the end of ``make demo``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from retriever.errors import RetrieverError
from retriever.recipe import SampleQueries


def ask_served_index(index_dir: Path, sample: SampleQueries) -> list[dict[str, Any]]:
    """Start the HTTP app on a free loopback port, POST the queries to /search, print and return the results."""
    import httpx
    from rich.console import Console
    from rich.table import Table

    from retriever.index.directory import load_index
    from retriever.index.searchers import make_searcher
    from retriever.serve.app import create_app
    from retriever.serve.config import ServeConfig
    from retriever.serve.server import running_server

    config = ServeConfig(index_dir=index_dir, port=0, retriever=sample.retriever, feedback=sample.feedback)
    loaded = load_index(index_dir, need_bm25=sample.retriever != "dense")
    searcher = make_searcher(loaded, config.retriever, config.fusion, config.feedback)
    app = create_app(searcher, loaded.documents, loaded.manifest, config)
    with running_server(app) as url:
        response = httpx.post(
            f"{url}/search", json={"queries": sample.queries, "k": sample.k, "return_text": True}, timeout=120
        )
    if response.status_code != 200:
        raise RetrieverError(f"POST {url}/search answered {response.status_code}: {response.text[:200]}")
    results = response.json()["results"]
    table = Table(title=f"POST {url}/search ({sample.retriever})")
    for column in ("query", "rank", "doc", "score", "text"):
        table.add_column(column)
    for query, result in zip(sample.queries, results, strict=True):
        for rank, hit in enumerate(result["hits"], start=1):
            text = (hit.get("text") or "")[:80]
            table.add_row(query if rank == 1 else "", str(rank), hit["id"], f"{hit['score']:.3f}", text)
    Console().print(table)
    return results
