"""``retriever judge``: measure an LLM relevance judge against human labels before it labels a collection."""
