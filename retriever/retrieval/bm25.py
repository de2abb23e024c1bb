"""BM25 over a corpus: bm25s by default; rank-bm25 and pyserini (Lucene) as optional engines.

Text = title + ``title_separator`` + text. Tokenisation (all engines but pyserini, which uses Lucene's
English analyzer): lowercase, scikit-learn's ``\\b\\w\\w+\\b`` tokens, English stopwords removed,
Snowball English stem (PyStemmer). Scoring (bm25s, Lucene variant, the default):
``score(q, d) = sum_{t in q} idf(t) * tf(t,d) / (tf(t,d) + k1 * (1 - b + b * |d| / avgdl))`` with
``idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))``. Defaults k1=1.5, b=0.75 reproduce the bm25s SciFact
reference (nDCG@10 0.686, measured 0.6863 by ``eval/reproduce_scifact.py``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from retriever.data.dataset import Corpus, Run
from retriever.errors import InputError
from retriever.retrieval.config import BM25Config

RANK_BM25_CLASSES = {"robertson": "BM25Okapi", "lucene": "BM25Okapi", "bm25l": "BM25L", "bm25+": "BM25Plus"}


def tokenize(texts: list[str], config: BM25Config) -> list[list[str]]:
    """Lowercased, stopword-free, stemmed tokens per text (the bm25s tokenizer)."""
    import bm25s

    stemmer = None
    if config.stemmer:
        import Stemmer

        try:
            stemmer = Stemmer.Stemmer(config.stemmer)
        except KeyError:
            raise InputError(f"unknown stemmer language {config.stemmer!r}", field="bm25.stemmer") from None
    return bm25s.tokenize(
        texts, stopwords=config.stopwords or [], stemmer=stemmer, return_ids=False, show_progress=False
    )


def indexable_tokens(texts: list[str], config: BM25Config) -> list[list[str]]:
    """:func:`tokenize` for indexing; a corpus left without any term is an :class:`InputError`."""
    tokens = tokenize(texts, config)
    if not any(tokens):
        raise InputError(
            f"BM25 has nothing to index: no document keeps a term after stopword removal "
            f"(stopwords={config.stopwords!r}) and stemming; set bm25.stopwords to null",
            field="bm25.stopwords",
        )
    return tokens


class _Bm25s:
    """The default engine: sparse pre-computed BM25 scores (bm25s)."""

    def __init__(self, config: BM25Config, engine: Any = None) -> None:
        import bm25s

        self.config = config
        self.engine = engine or bm25s.BM25(k1=config.k1, b=config.b, delta=config.delta, method=config.method)

    def index(self, texts: list[str]) -> None:
        self.engine.index(indexable_tokens(texts, self.config), show_progress=False)

    def top_k(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        rows, scores = self.engine.retrieve(tokenize(queries, self.config), k=k, show_progress=False)
        return rows, scores

    def save(self, directory: Path) -> None:
        self.engine.save(str(directory / "bm25s"))

    @classmethod
    def load(cls, config: BM25Config, directory: Path) -> _Bm25s:
        import bm25s

        return cls(config, bm25s.BM25.load(str(directory / "bm25s")))


class _RankBm25:
    """rank-bm25 (pure Python, scores every document per query; for cross-checks on small corpora)."""

    def __init__(self, config: BM25Config) -> None:
        if config.method not in RANK_BM25_CLASSES:
            raise InputError(f"rank_bm25 has no {config.method!r} variant", field="bm25.method")
        try:
            import rank_bm25
        except ImportError:
            raise InputError(
                "backend rank_bm25 needs `pip install retriever[rank-bm25]`", field="bm25.backend"
            ) from None
        self.config = config
        self.engine_class = getattr(rank_bm25, RANK_BM25_CLASSES[config.method])
        self.tokens: list[list[str]] = []

    def index(self, texts: list[str]) -> None:
        self._fit(indexable_tokens(texts, self.config))

    def _fit(self, tokens: list[list[str]]) -> None:
        self.tokens = tokens
        options = {"k1": self.config.k1, "b": self.config.b}
        if self.config.method in ("bm25l", "bm25+"):
            options["delta"] = self.config.delta
        self.engine = self.engine_class(tokens, **options)

    def top_k(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = np.stack([self.engine.get_scores(tokens) for tokens in tokenize(queries, self.config)])
        rows = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return rows, np.take_along_axis(scores, rows, axis=1)

    def save(self, directory: Path) -> None:
        (directory / "tokens.json").write_text(json.dumps(self.tokens))

    @classmethod
    def load(cls, config: BM25Config, directory: Path) -> _RankBm25:
        backend = cls(config)
        backend._fit(json.loads((directory / "tokens.json").read_text()))
        return backend


class _Pyserini:
    """Lucene BM25 through pyserini (needs Java); Lucene's English analyzer replaces :func:`tokenize`."""

    def __init__(self, config: BM25Config, directory: Path | None = None) -> None:
        try:
            import pyserini.search.lucene  # noqa: F401
        except ImportError:
            raise InputError(
                "backend pyserini needs `pip install retriever[pyserini]` and a Java runtime",
                field="bm25.backend",
            ) from None
        self.config = config
        self.directory = directory

    def index(self, texts: list[str]) -> None:
        from pyserini.index.lucene import LuceneIndexer

        self.directory = Path(tempfile.mkdtemp(prefix="retriever-lucene-"))
        indexer = LuceneIndexer(str(self.directory))
        indexer.add_batch_dict([{"id": str(row), "contents": text} for row, text in enumerate(texts)])
        indexer.close()

    def top_k(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        from pyserini.search.lucene import LuceneSearcher

        searcher = LuceneSearcher(str(self.directory))
        searcher.set_bm25(self.config.k1, self.config.b)
        keys = [str(i) for i in range(len(queries))]
        hits = searcher.batch_search(queries, keys, k=k, threads=4)
        rows, scores = np.full((len(queries), k), -1), np.zeros((len(queries), k), dtype=np.float32)
        for i, key in enumerate(keys):
            for j, hit in enumerate(hits[key]):
                rows[i, j], scores[i, j] = int(hit.docid), hit.score
        return rows, scores

    def save(self, directory: Path) -> None:
        shutil.copytree(self.directory, directory / "lucene", dirs_exist_ok=True)

    @classmethod
    def load(cls, config: BM25Config, directory: Path) -> _Pyserini:
        return cls(config, directory / "lucene")


BACKENDS = {"bm25s": _Bm25s, "rank_bm25": _RankBm25, "pyserini": _Pyserini}


class BM25Index:
    """A BM25 engine over a corpus, searched by query text; row ``r`` is document ``ids[r]``."""

    def __init__(self, backend: Any, ids: list[str], config: BM25Config) -> None:
        self.backend = backend
        self.ids = ids
        self.config = config

    @classmethod
    def build(cls, corpus: Corpus, config: BM25Config | None = None) -> BM25Index:
        """Index title + separator + text of every document."""
        config = config or BM25Config()
        backend = BACKENDS[config.backend](config)
        backend.index(corpus.joined(config.title_separator))
        return cls(backend, list(corpus.ids), config)

    def search(self, queries: dict[str, str], k: int) -> Run:
        """{query id: {doc id: score}} with at most ``k`` documents per query; documents sharing no term with
        the query (score 0) are left out."""
        if not queries:
            return {}
        rows, scores = self.backend.top_k(list(queries.values()), min(k, len(self.ids)))
        return {
            qid: {
                self.ids[row]: float(score)
                for row, score in zip(rows[i], scores[i], strict=True)
                if row >= 0 and score != 0
            }
            for i, qid in enumerate(queries)
        }

    def save(self, directory: str | Path) -> Path:
        """Write the engine files, ``ids.json`` and ``bm25.json`` (the config) into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.backend.save(directory)
        (directory / "ids.json").write_text(json.dumps(self.ids))
        (directory / "bm25.json").write_text(json.dumps(self.config.model_dump(), indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> BM25Index:
        """Read an index written by :meth:`save`."""
        directory = Path(directory)
        for name in ("ids.json", "bm25.json"):
            if not (directory / name).is_file():
                raise InputError(f"not a BM25 index directory: {name} is missing", path=directory)
        config = BM25Config.model_validate_json((directory / "bm25.json").read_text())
        backend = BACKENDS[config.backend].load(config, directory)
        return cls(backend, json.loads((directory / "ids.json").read_text()), config)
