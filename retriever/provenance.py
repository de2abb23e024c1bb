"""Library versions recorded with every output that carries numbers.

The eval report (``report.json`` ``versions``), mine's ``manifest.json`` and the index directory's
``manifest.json`` all record :func:`library_versions`: the same keys in the same order, so two outputs can be
compared key by key.
"""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

import retriever

# The distributions whose version can change a number or a file this package writes: encoding and training,
# indexing and search, BM25 engines and stemming, metrics, file formats and the judge client.
PACKAGES = (
    "torch",
    "sentence-transformers",
    "transformers",
    "tokenizers",
    "accelerate",
    "faiss-cpu",
    "faiss-gpu-cu12",
    "bm25s",
    "PyStemmer",
    "rank-bm25",
    "pyserini",
    "pytrec_eval-terrier",
    "numpy",
    "pyarrow",
    "httpx",
)


def library_versions() -> dict[str, str | None]:
    """``{"python": ..., "retriever": ..., <each of PACKAGES>: version}``, in that order; a package that is
    not installed maps to None (kept, so "not installed" is recorded rather than unknown)."""
    found: dict[str, str | None] = {"python": platform.python_version(), "retriever": retriever.__version__}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found
