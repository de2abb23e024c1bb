"""LLM relevance judges: versioned prompts with strict parsers, an OpenAI-compatible async client, a local
transformers judge, and the SQLite cache every judgement goes through before it is used."""
