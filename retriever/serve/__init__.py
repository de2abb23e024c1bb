"""Serving a saved index over HTTP for retrieval-augmented generation.

- :mod:`.index_dir` writes and loads an index directory (FAISS index, documents, optional BM25, manifest);
- :mod:`.searchers` turns a loaded directory into dense / BM25 / hybrid searchers;
- :mod:`.batching` micro-batches concurrent requests; :mod:`.app` is the FastAPI app; :mod:`.server` runs it;
- :mod:`.command` holds the ``retriever index`` and ``retriever serve`` commands.

FastAPI, uvicorn, torch and faiss are imported by the submodules that need them, not here.
"""
