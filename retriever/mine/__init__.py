"""``retriever mine``: candidates (BM25 / dense / fusion) -> teacher scores -> LLM judges -> multi-positive
sets + hard negatives scored with ECI, written as a training file and a manifest (resumable, cached)."""
