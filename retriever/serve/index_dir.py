"""The index directory written by ``retriever index`` and loaded by ``retriever serve``.

Layout::

    DIR/manifest.json   what the index was built from (below); written last, so a directory without it is an
                        unfinished build
    DIR/docs.arrow      Arrow IPC file, columns id, title, text, in index order (memory-mapped when loaded)
    DIR/dense/          the FAISS index (:meth:`DenseIndex.save`: index.faiss, ids.json, index.json)
    DIR/bm25/           optional BM25 index (:meth:`BM25Index.save`)

Manifest: ``format``/``format_version``; ``created`` (UTC ISO time); ``model`` (name as given, resolved
``source``, ``identity`` = the embedding-cache identity, and ``fingerprint`` = the model's vectors for
:data:`PROBE_TEXTS`); ``encoder`` (similarity, normalization, dimension, max length, prompts, title
separator); ``dimension``, ``similarity``, ``normalized``; ``index`` (type and parameters); ``corpus``
(dataset name, source, fingerprint, documents); ``bm25`` (its config, or null); ``versions``.

Loading checks, each a one-line :class:`InputError`: the manifest parses and has this format; the files exist
and read (a corrupt FAISS or Arrow file is named); the FAISS index, the documents and the manifest agree on
size and dimension; the model gives the recorded dimension and similarity and reproduces the fingerprint
vectors within :data:`FINGERPRINT_TOLERANCE` (max absolute difference), so an index is never served with
another model's query vectors. The fingerprint compares behaviour, not files, so a copied or re-saved model
passes and a different model with the same dimension fails.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from retriever.data.dataset import Corpus
from retriever.errors import InputError, first_line
from retriever.outputs import require_output_dir
from retriever.provenance import library_versions
from retriever.retrieval.bm25 import BM25Index
from retriever.retrieval.config import EncoderConfig
from retriever.retrieval.dense_index import DenseIndex
from retriever.retrieval.encoder import Encoder
from retriever.serve.config import IndexBuildConfig

FORMAT = "retriever-index"
FORMAT_VERSION = 1
MANIFEST, DOCS, DENSE, BM25 = "manifest.json", "docs.arrow", "dense", "bm25"
PROBE_TEXTS = (
    "what causes iron deficiency anemia?",
    "Paris is the capital and most populous city of France.",
    "dense passage retrieval with a bi-encoder",
)
FINGERPRINT_TOLERANCE = 1e-3
ENCODER_SETTINGS = ("max_seq_length", "query_prompt", "document_prompt", "title_separator", "batch_size")


class Documents:
    """Document ids, titles and texts in index order, backed by a memory-mapped Arrow file."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.ids: list[str] = table.column("id").to_pylist()
        self.position = {doc_id: row for row, doc_id in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, doc_ids: Sequence[str]) -> list[tuple[str, str]]:
        """(title, text) of each id, in the given order."""
        rows = self.table.take([self.position[doc_id] for doc_id in doc_ids])
        return list(zip(rows.column("title").to_pylist(), rows.column("text").to_pylist(), strict=True))

    @staticmethod
    def write(corpus: Corpus, path: Path) -> None:
        import pyarrow as pa

        table = pa.table({"id": corpus.ids, "title": corpus.titles, "text": corpus.texts})
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)

    @classmethod
    def read(cls, path: Path) -> Documents:
        import pyarrow as pa

        try:
            table = pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()
            return cls(table.select(["id", "title", "text"]))
        except (pa.ArrowException, OSError, KeyError) as exc:
            raise InputError(
                f"corrupt or unreadable documents file ({first_line(exc)})", path=path
            ) from None


@dataclass
class LoadedIndex:
    """An index directory in memory: its manifest, documents, FAISS index, optional BM25 and query encoder."""

    directory: Path
    manifest: dict[str, Any]
    documents: Documents
    dense: DenseIndex
    bm25: BM25Index | None
    encoder: Encoder


def model_fingerprint(encoder: Encoder) -> list[list[float]]:
    """The encoder's query vectors for :data:`PROBE_TEXTS` (rounded to 6 decimals)."""
    return np.round(encoder.encode_queries(list(PROBE_TEXTS)), 6).tolist()


def build_manifest(
    encoder: Encoder, dense: DenseIndex, corpus: Corpus, dataset: dict[str, str], bm25: BM25Index | None
) -> dict[str, Any]:
    """The manifest of an index built from ``encoder`` over ``corpus`` (see the module doc)."""
    described = encoder.describe()
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": {
            "name": encoder.name,
            "source": encoder.source,
            "identity": encoder.identity(),
            "fingerprint": {"texts": list(PROBE_TEXTS), "vectors": model_fingerprint(encoder)},
        },
        "encoder": described,
        "dimension": described["dimension"],
        "similarity": described["similarity"],
        "normalized": described["normalized"],
        "index": {"type": dense.config.type, "params": dense.config.model_dump(), "size": len(dense)},
        "corpus": {**dataset, "fingerprint": corpus.fingerprint, "documents": len(corpus)},
        "bm25": bm25.config.model_dump() if bm25 is not None else None,
        "versions": library_versions(),
    }


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
) -> Path:
    """Write an index directory (which must be absent or empty); the manifest goes last."""
    directory = Path(directory)
    check_output_dir(directory)
    if dense.ids != list(corpus.ids):
        raise ValueError("the dense index rows must follow the corpus order")
    directory.mkdir(parents=True, exist_ok=True)
    Documents.write(corpus, directory / DOCS)
    dense.save(directory / DENSE)
    if bm25 is not None:
        bm25.save(directory / BM25)
    manifest = build_manifest(encoder, dense, corpus, dataset, bm25)
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return directory


def build_index(config: IndexBuildConfig, *, use_cache: bool = True) -> Path:
    """Load ``config.data``'s corpus, encode it (through the embedding cache), build the FAISS index (and BM25
    when configured) and save the directory ``config.out``."""
    from retriever.data.loader import load_dataset
    from retriever.retrieval.embedding_cache import EmbeddingCache
    from retriever.retrieval.search import index_corpus

    check_output_dir(config.out)
    dataset = load_dataset(config.data)
    encoder = Encoder(config.model, config.encoder)
    cache = EmbeddingCache(config.cache_dir) if use_cache else None
    dense = index_corpus(encoder, dataset.corpus, config.index, cache)
    bm25 = BM25Index.build(dataset.corpus, config.bm25) if config.bm25 is not None else None
    source = Path(config.data).expanduser()
    described = {"name": dataset.name, "source": str(source.resolve()) if source.exists() else config.data}
    return save_index_dir(config.out, encoder, dense, dataset.corpus, described, bm25)


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The manifest of an index directory, validated enough to load the rest."""
    path = Path(directory) / MANIFEST
    if not Path(directory).is_dir():
        raise InputError("index directory not found", path=directory)
    if not path.is_file():
        raise InputError("not an index directory (no manifest.json; run `retriever index`)", path=directory)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError(f"not a {FORMAT} manifest", path=path, field="format")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InputError(
            f"format version {manifest.get('format_version')!r} is not supported (expected {FORMAT_VERSION})",
            path=path,
            field="format_version",
        )
    return manifest


def check_model(manifest: dict[str, Any], encoder: Encoder, path: Path) -> None:
    """Fail unless ``encoder`` is the model the index was built with (dimension, similarity, fingerprint)."""
    where = f"the index was built with {manifest['model']['name']!r}"
    if encoder.dimension != manifest["dimension"]:
        raise InputError(
            f"{where} (dimension {manifest['dimension']}) but model {encoder.name!r} has dimension "
            f"{encoder.dimension}",
            path=path,
            field="dimension",
        )
    if encoder.similarity != manifest["similarity"]:
        raise InputError(
            f"{where} (similarity {manifest['similarity']}) but model {encoder.name!r} uses "
            f"{encoder.similarity}",
            path=path,
            field="similarity",
        )
    expected = np.asarray(manifest["model"]["fingerprint"]["vectors"], dtype=np.float32)
    actual = np.asarray(model_fingerprint(encoder), dtype=np.float32)
    difference = float(np.abs(expected - actual).max())
    if difference > FINGERPRINT_TOLERANCE:
        raise InputError(
            f"{where} but model {encoder.name!r} gives different vectors (max difference {difference:.3g} on "
            "the fingerprint texts): use the same model or rebuild the index",
            path=path,
            field="model.fingerprint",
        )


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


def load_index_dir(
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
