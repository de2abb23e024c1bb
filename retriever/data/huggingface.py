"""BEIR-style datasets on the Hugging Face Hub, read with :func:`datasets.load_dataset`.

Two naming schemes are supported, both with BEIR columns (corpus ``_id/title/text``, queries ``_id/text``,
qrels ``query-id/corpus-id/score``):

- ``BeIR/<name>``: configs ``corpus`` and ``queries``; qrels in the separate dataset ``BeIR/<name>-qrels``
  with one split per qrels split;
- ``mteb/<name>``: configs ``corpus`` and ``queries``; qrels in the ``default`` config, one split each.

Without a network or a local ``datasets`` cache, loading fails with one InputError line.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from retriever.data.beir import corpus_from_records, qrels_from_rows, queries_from_records
from retriever.data.dataset import Corpus, Dataset
from retriever.data.parsing import choose_split, drop_unknown
from retriever.errors import InputError, first_line

HUB_OWNERS = ("beir", "mteb")


def is_hub_name(name: str) -> bool:
    """Whether ``name`` is ``BeIR/<x>`` or ``mteb/<x>`` (case-insensitive owner)."""
    owner, sep, dataset = name.partition("/")
    return bool(sep and dataset and "/" not in dataset and owner.lower() in HUB_OWNERS)


def _load(name: str, config: str | None) -> Mapping[str, Any]:
    """``datasets.load_dataset(name, config)`` as ``{split: rows}``, with any failure as one InputError."""
    import datasets

    try:
        return datasets.load_dataset(name, config)
    except Exception as exc:  # datasets raises many unrelated types (network, cache, not found)
        raise InputError(
            f"cannot load Hugging Face dataset {name!r} (config {config!r}): {first_line(exc)}. Offline, unpack the "
            "dataset's BEIR zip under a folder, set RETRIEVER_DATA_HOME to that folder and use the bare name",
            path=f"hf://{name}",
        ) from None


def _rows(dataset_dict: Mapping[str, Any], split: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """1-based row numbers and rows of one split (the config's only split when ``split`` is absent)."""
    rows = dataset_dict[split] if split in dataset_dict else next(iter(dataset_dict.values()))
    return enumerate(rows, start=1)


def read_huggingface(name: str, split: str | None = None, corpus: Corpus | None = None) -> Dataset:
    """Read ``BeIR/<name>`` or ``mteb/<name>``; ``split`` defaults to ``test`` or to the only qrels split; a
    ``corpus`` already read from this dataset is used instead of loading it again."""
    if not is_hub_name(name):
        raise InputError("expected a Hugging Face name BeIR/<dataset> or mteb/<dataset>", path=name)
    beir = name.split("/")[0].lower() == "beir"
    qrels_splits = _load(f"{name}-qrels", None) if beir else _load(name, "default")
    split, qrels_rows = choose_split(dict(qrels_splits), split, f"hf://{name}")
    if corpus is None:
        corpus = corpus_from_records(_rows(_load(name, "corpus"), "corpus"), f"hf://{name}/corpus")
    queries = queries_from_records(_rows(_load(name, "queries"), "queries"), f"hf://{name}/queries")
    source = f"hf://{name}/qrels/{split}"
    qrels = drop_unknown(qrels_from_rows(enumerate(qrels_rows, start=1), source), corpus, queries, source)
    return Dataset(name=name.split("/")[1], corpus=corpus, queries=queries, qrels=qrels, split=split)
