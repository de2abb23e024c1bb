"""The manifest of an index directory (``manifest.json``, written last): what the index was built from, and
the check that a model is the one it was built with.

Fields: ``format``/``format_version``; ``created`` (UTC ISO time); ``model`` (name as given, resolved
``source``, ``identity`` = the embedding-cache identity, and ``fingerprint`` = the model's vectors for
:data:`PROBE_TEXTS`); ``encoder`` (similarity, normalization, dimension, max length, prompts, title
separator); ``dimension``, ``similarity``, ``normalized``; ``index`` (type and parameters); ``corpus``
(dataset name, source, fingerprint, documents); ``bm25`` (its config, or null); ``expansion`` (the split
whose labelled queries expanded the documents, the dense weight and how many documents they reached, or null);
``versions``.

The fingerprint compares behaviour, not files, so a copied or re-saved model passes and a different model with
the same dimension fails (max absolute difference above :data:`FINGERPRINT_TOLERANCE`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retriever.data.dataset import Corpus
from retriever.errors import InputError
from retriever.provenance import library_versions
from retriever.retrieval.bm25 import BM25Index
from retriever.retrieval.dense_index import DenseIndex
from retriever.retrieval.encoder import Encoder

if TYPE_CHECKING:
    from retriever.retrieval.expansion import DocumentExpansion

FORMAT = "retriever-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PROBE_TEXTS = (
    "what causes iron deficiency anemia?",
    "Paris is the capital and most populous city of France.",
    "dense passage retrieval with a bi-encoder",
)
FINGERPRINT_TOLERANCE = 1e-3


def model_fingerprint(encoder: Encoder) -> list[list[float]]:
    """The encoder's query vectors for :data:`PROBE_TEXTS` (rounded to 6 decimals)."""
    return np.round(encoder.encode_queries(list(PROBE_TEXTS)), 6).tolist()


def build_manifest(
    encoder: Encoder,
    dense: DenseIndex,
    corpus: Corpus,
    dataset: dict[str, str],
    bm25: BM25Index | None,
    expansion: DocumentExpansion | None = None,
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
        "expansion": expansion.describe() if expansion is not None else None,
        "versions": library_versions(),
    }


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
