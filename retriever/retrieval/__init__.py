"""Shared retrieval machinery used by eval, mining and serving.

- :mod:`.models` resolves model names/paths (offline fallbacks) and loads bi-encoders;
- :mod:`.encoder` turns queries and documents into float32 vectors;
- :mod:`.embedding_cache` keeps corpus vectors on disk (sharded, resumable, memory-mapped);
- :mod:`.dense_index` wraps FAISS (flat, HNSW, IVF-PQ); :mod:`.bm25` wraps bm25s (and optional engines);
- :mod:`.fusion` combines rankings (RRF, min-max interpolation); :mod:`.search` produces ``Run`` objects.

Heavy libraries (torch, sentence-transformers, faiss, bm25s) are imported inside functions.
"""
