"""One entry point for every dataset: :func:`load_dataset` resolves a path or a name to a reader.

Resolution of ``name_or_path``:

1. an existing directory: its layout is detected (BEIR ``corpus.jsonl``, MS MARCO ``collection.tsv``, DPR
   ``psgs_w100.tsv``/``passages.tsv``, each optionally ``.gz``);
2. ``BeIR/<x>`` or ``mteb/<x>``: the Hugging Face dataset (needs a network or a ``datasets`` cache);
3. a bare name such as ``scifact``: ``$RETRIEVER_DATA_HOME/<name>`` (default ``~/.cache/retriever/data``),
   downloaded there from the BEIR mirror and unpacked when absent.

``split`` defaults to ``test``, or to the only split present; an unknown split lists the available ones.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from retriever.data.beir import is_beir, read_beir
from retriever.data.dataset import Corpus, Dataset
from retriever.data.dpr import is_dpr, read_dpr
from retriever.data.huggingface import is_hub_name, read_huggingface
from retriever.data.msmarco import is_msmarco, read_msmarco
from retriever.errors import InputError

BEIR_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/{name}.zip"
DATA_HOME_VARIABLE = "RETRIEVER_DATA_HOME"
READERS = ((is_beir, read_beir), (is_msmarco, read_msmarco), (is_dpr, read_dpr))


def data_home() -> Path:
    """``$RETRIEVER_DATA_HOME``, or ``~/.cache/retriever/data``."""
    return Path(
        os.environ.get(DATA_HOME_VARIABLE) or Path.home() / ".cache" / "retriever" / "data"
    ).expanduser()


def read_directory(directory: Path, split: str | None = None, corpus: Corpus | None = None) -> Dataset:
    """Read a dataset directory with the reader of its detected layout."""
    for detect, read in READERS:
        if detect(directory):
            return read(directory, split, corpus)
    raise InputError(
        "unknown dataset layout: expected corpus.jsonl (BEIR), collection.tsv (MS MARCO) "
        "or psgs_w100.tsv/passages.tsv (DPR)",
        path=directory,
    )


def download_beir(name: str, home: Path) -> Path:
    """Download ``<name>.zip`` from :data:`BEIR_URL` and unpack it to ``home/<name>``; returns that folder."""
    import httpx
    from tqdm.auto import tqdm

    url = BEIR_URL.format(name=name)
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=home, prefix=f".{name}-") as tmp:
        archive = Path(tmp) / f"{name}.zip"
        try:
            with httpx.stream("GET", url, follow_redirects=True, timeout=30.0) as response:
                response.raise_for_status()
                total = int(response.headers.get("content-length", 0)) or None
                with (
                    archive.open("wb") as out,
                    tqdm(total=total, unit="B", unit_scale=True, desc=name) as bar,
                ):
                    for chunk in response.iter_bytes():
                        out.write(chunk)
                        bar.update(len(chunk))
        except httpx.HTTPError as exc:
            raise InputError(
                f"dataset {name!r} is not in {home} and downloading {url} failed "
                f"({type(exc).__name__}: {exc}); put the dataset folder under a directory and set "
                f"{DATA_HOME_VARIABLE} to that directory",
                path=home / name,
            ) from None
        try:
            with zipfile.ZipFile(archive) as bundle:
                bundle.extractall(tmp)
        except zipfile.BadZipFile:
            raise InputError(f"the download from {url} is not a zip archive", path=archive) from None
        unpacked = Path(tmp) / name
        if not unpacked.is_dir():
            raise InputError(f"the archive from {url} has no folder {name!r}", path=archive)
        shutil.move(unpacked, home / name)
    return home / name


def load_dataset(name_or_path: str, split: str | None = None, corpus: Corpus | None = None) -> Dataset:
    """A :class:`Dataset` from a directory, a Hugging Face name or a BEIR dataset name (module doc).

    ``corpus``: the dataset's corpus when another split of it is already loaded (``load_dataset(name,
    split).corpus``); it is used as it is instead of being read again (a Hugging Face corpus is otherwise loaded
    into memory a second time). The caller vouches that it is this dataset's."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return read_directory(path, split, corpus)
    if is_hub_name(name_or_path):
        return read_huggingface(name_or_path, split, corpus)
    if path.exists():
        raise InputError("expected a dataset directory, found a file", path=path)
    if len(path.parts) != 1 or name_or_path.startswith("."):
        raise InputError("no such dataset directory", path=path)
    home = data_home()
    local = home / name_or_path
    return read_directory(local if local.is_dir() else download_beir(name_or_path, home), split, corpus)
