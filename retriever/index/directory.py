"""The index directory written by ``retriever index`` and loaded by ``retriever serve`` (or
:func:`retriever.load_index` in Python).

Layout::

    DIR/manifest.json   what the index was built from (:mod:`retriever.index.manifest`); written last, so a
                        directory without it is an unfinished build
    DIR/docs.arrow      the documents in index order (:mod:`retriever.index.documents`)
    DIR/dense/          the FAISS index (:meth:`DenseIndex.save`: index.faiss, ids.json, index.json)
    DIR/bm25/           optional BM25 index (:meth:`BM25Index.save`)

Loading checks, each a one-line :class:`InputError`: the manifest parses and has this format; the files exist
and read (a corrupt FAISS or Arrow file is named); the FAISS index, the documents and the manifest agree on
size and dimension; the model gives the recorded dimension and similarity and reproduces the fingerprint
vectors, so an index is never served with another model's query vectors.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retriever.data.dataset import Corpus
from retriever.errors import InputError, first_line
from retriever.files import replace_directory
from retriever.index.config import IndexBuildConfig
from retriever.index.documents import Documents
from retriever.index.manifest import MANIFEST, build_manifest, check_model, read_manifest
from retriever.outputs import require_output_dir
from retriever.retrieval.bm25 import BM25Index
from retriever.retrieval.config import EncoderConfig, FusionConfig
from retriever.retrieval.dense_index import DenseIndex
from retriever.retrieval.encoder import Encoder

if TYPE_CHECKING:
    from retriever.retrieval.expansion import DocumentExpansion

DOCS, DENSE, BM25 = "docs.arrow", "dense", "bm25"
ENCODER_SETTINGS = (
    "max_seq_length", "query_prompt", "document_prompt", "title_separator", "batch_size", "precision",
)  # fmt: skip  # the query side encodes as the index was built (a bf16 index: bf16 queries)


@dataclass
class LoadedIndex:
    """An index directory in memory: its manifest, documents, FAISS index, optional BM25 and query encoder."""

    directory: Path
    manifest: dict[str, Any]
    documents: Documents
    dense: DenseIndex
    bm25: BM25Index | None
    encoder: Encoder

    def search(
        self, queries: list[str], k: int = 10, retriever: str = "dense", fusion: FusionConfig | None = None
    ) -> list[list[tuple[str, float]]]:
        """Each query's top ``k`` (doc id, score), best first, by ``retriever`` (dense, bm25 or hybrid):
        exactly what ``retriever serve`` answers for the same queries."""
        from retriever.index.searchers import make_searcher

        return make_searcher(self, retriever, fusion).search(queries, k)


def check_output_dir(directory: Path) -> None:
    """An index is written only into an absent or empty directory (never over another index)."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InputError("output exists and is not an empty directory", path=directory)
    require_output_dir(directory)


def save_index_dir(
    directory: str | Path,
    encoder: Encoder,
    dense: DenseIndex,
    corpus: Corpus,
    dataset: dict[str, str],
    bm25: BM25Index | None = None,
    expansion: DocumentExpansion | None = None,
) -> Path:
    """Write an index directory (which must be absent or empty); the manifest goes last. ``corpus`` is the
    documents as served (without the ``expansion`` the indexes were built with, which the manifest records)."""
    directory = Path(directory)
    check_output_dir(directory)
    if dense.ids != list(corpus.ids):
        raise ValueError("the dense index rows must follow the corpus order")
    directory.mkdir(parents=True, exist_ok=True)
    Documents.write(corpus, directory / DOCS)
    dense.save(directory / DENSE)
    if bm25 is not None:
        bm25.save(directory / BM25)
    manifest = build_manifest(encoder, dense, corpus, dataset, bm25, expansion)
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return directory


def encode_on_all_ranks(config: IndexBuildConfig) -> bool:
    """Under torchrun, every rank encodes its shards of the corpus into the embedding cache
    (:mod:`retriever.distributed`); True on ranks other than 0, which then stop. False in one process."""
    from retriever import distributed
    from retriever.data.loader import load_dataset
    from retriever.retrieval.embedding_cache import EmbeddingCache

    return distributed.encode_then_release_workers(
        lambda: load_dataset(config.data).corpus,
        [lambda: Encoder(config.model, config.encoder)],
        EmbeddingCache(config.cache_dir) if config.cache else None,
    )


def build_index(config: IndexBuildConfig, *, replace: bool = False) -> Path:
    """Load ``config.data``'s corpus, encode it (through the embedding cache unless ``config.cache`` is off),
    build the FAISS index (and BM25 when configured), both expanded with the labelled queries of
    ``config.expansion.split`` when set, and save the directory ``config.output``.

    With ``replace`` (a recipe run again), an index already in ``config.output`` is rebuilt: the new one is
    written beside it and swapped in once complete, so a failed build leaves the old index as it was. Only an
    index directory is replaced (anything else there is refused, as without ``replace``)."""
    output = Path(config.output)
    if replace and output.is_dir() and any(output.iterdir()):
        read_manifest(output)
        staging = output.with_name(f".{output.name}.building")
        shutil.rmtree(staging, ignore_errors=True)
        return replace_directory(build_index(config.model_copy(update={"output": staging})), output)
    from retriever.data.loader import load_dataset
    from retriever.retrieval.embedding_cache import EmbeddingCache
    from retriever.retrieval.expansion import DocumentExpansion
    from retriever.retrieval.search import index_corpus

    check_output_dir(config.output)
    dataset = load_dataset(config.data)
    expansion = (
        DocumentExpansion.load(config.data, config.expansion, dataset.corpus)
        if config.expansion.split
        else None
    )
    encoder = Encoder(config.model, config.encoder)
    cache = EmbeddingCache(config.cache_dir) if config.cache else None
    dense = index_corpus(encoder, dataset.corpus, config.index, cache, expansion)
    bm25 = None
    if config.bm25 is not None:
        bm25 = BM25Index.build(expansion.corpus(dataset.corpus) if expansion else dataset.corpus, config.bm25)
    source = Path(config.data).expanduser()
    described = {"name": dataset.name, "source": str(source.resolve()) if source.exists() else config.data}
    return save_index_dir(config.output, encoder, dense, dataset.corpus, described, bm25, expansion)


def _load_dense(directory: Path, use_gpu: bool) -> DenseIndex:
    try:
        return DenseIndex.load(directory, use_gpu=use_gpu)
    except InputError:
        raise
    except (RuntimeError, OSError, ValueError, KeyError) as exc:  # faiss raises RuntimeError on a bad file
        raise InputError(f"corrupt or unreadable FAISS index ({first_line(exc)})", path=directory) from None


def _load_bm25(directory: Path) -> BM25Index:
    try:
        return BM25Index.load(directory)
    except InputError:
        raise
    except Exception as exc:  # bm25s/numpy/json raise many types on a damaged file
        raise InputError(f"corrupt or unreadable BM25 index ({first_line(exc)})", path=directory) from None


def load_index(
    directory: str | Path,
    *,
    model: str | None = None,
    device: str | None = None,
    use_gpu: bool = False,
    need_bm25: bool = False,
) -> LoadedIndex:
    """Load and check an index directory; ``model`` overrides the recorded model (e.g. after moving it)."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    manifest_path = directory / MANIFEST
    documents = Documents.read(directory / DOCS)
    dense = _load_dense(directory / DENSE, use_gpu)
    if len(dense) != len(documents) or dense.ids != documents.ids:
        raise InputError("the FAISS index and docs.arrow disagree (size or order)", path=directory / DENSE)
    if int(dense.index.d) != manifest["dimension"]:
        raise InputError("the FAISS index dimension differs from the manifest", path=directory / DENSE)
    bm25 = None
    if (directory / BM25).is_dir():
        bm25 = _load_bm25(directory / BM25)
    elif need_bm25:
        raise InputError(
            "this index has no BM25 part: rebuild it with `retriever index --bm25`", path=directory
        )
    recorded = manifest["model"]
    source = model or (
        recorded["source"] if recorded.get("source") and Path(recorded["source"]).exists() else None
    )
    settings = {key: manifest["encoder"][key] for key in ENCODER_SETTINGS if key in manifest["encoder"]}
    encoder = Encoder(
        source or recorded["name"],
        EncoderConfig(**settings, device=device),
        name=model or recorded["name"],
        progress=False,
    )
    check_model(manifest, encoder, manifest_path)
    return LoadedIndex(directory, manifest, documents, dense, bm25, encoder)
