"""Hugging Face loader: BeIR/ and mteb/ naming schemes (``datasets.load_dataset`` replaced by local data) and
the one-line error when the Hub cannot be reached."""

from __future__ import annotations

import datasets
import pytest

from retriever.data import load_dataset
from retriever.data.huggingface import is_hub_name, read_huggingface
from retriever.errors import InputError

CORPUS = [{"_id": "d1", "title": "T", "text": "one"}, {"_id": "d2", "title": "", "text": "two"}]
QUERIES = [{"_id": "q1", "text": "first"}, {"_id": "q2", "text": "second"}]
QRELS = {
    "test": [
        {"query-id": "q1", "corpus-id": "d2", "score": 1},
        {"query-id": "q2", "corpus-id": "gone", "score": 1},
    ],
    "train": [{"query-id": "q2", "corpus-id": "d1", "score": 2}],
}


def fake_hub(calls: list) -> callable:
    """A ``datasets.load_dataset`` serving BeIR/toy, BeIR/toy-qrels and mteb/toy from memory."""

    def load(name: str, config: str | None = None):
        calls.append((name, config))
        tables = {
            ("BeIR/toy", "corpus"): {"corpus": CORPUS},
            ("BeIR/toy", "queries"): {"queries": QUERIES},
            ("BeIR/toy-qrels", None): QRELS,
            ("mteb/toy", "corpus"): {"corpus": CORPUS},
            ("mteb/toy", "queries"): {"queries": QUERIES},
            ("mteb/toy", "default"): QRELS,
        }
        if (name, config) not in tables:
            raise FileNotFoundError(f"Couldn't find '{name}' on the Hub\nmore detail")
        return datasets.DatasetDict(
            {split: datasets.Dataset.from_list(rows) for split, rows in tables[name, config].items()}
        )

    return load


@pytest.mark.parametrize(
    ("name", "qrels_call"), [("BeIR/toy", ("BeIR/toy-qrels", None)), ("mteb/toy", ("mteb/toy", "default"))]
)
def test_both_naming_schemes(monkeypatch, name, qrels_call):
    calls: list = []
    monkeypatch.setattr(datasets, "load_dataset", fake_hub(calls))
    dataset = load_dataset(name)
    assert qrels_call in calls and (name, "corpus") in calls and (name, "queries") in calls
    assert (dataset.name, dataset.split) == ("toy", "test")
    assert dataset.corpus.ids == ["d1", "d2"] and dataset.corpus.titles == ["T", ""]
    assert dataset.queries == {"q1": "first", "q2": "second"}
    assert dataset.qrels == {"q1": {"d2": 1}}  # the judgment of an unknown document is dropped
    assert read_huggingface(name, "train").qrels == {"q2": {"d1": 2}}
    with pytest.raises(InputError, match="unknown split 'dev'; available splits: test, train"):
        read_huggingface(name, "dev")


def test_hub_errors_become_one_line(monkeypatch):
    monkeypatch.setattr(datasets, "load_dataset", fake_hub([]))
    with pytest.raises(InputError, match="RETRIEVER_DATA_HOME") as error:
        load_dataset("mteb/absent")
    assert "\n" not in str(error.value) and "Couldn't find 'mteb/absent'" in str(error.value)


def test_unreachable_or_absent_hub_dataset_is_an_input_error():
    # offline (HF_HUB_OFFLINE=1, as `make test` sets) or online, this name cannot load
    with pytest.raises(
        InputError, match="cannot load Hugging Face dataset 'BeIR/retriever-no-such-set-qrels'"
    ):
        load_dataset("BeIR/retriever-no-such-set")


def test_hub_names():
    assert is_hub_name("BeIR/scifact") and is_hub_name("mteb/scifact") and is_hub_name("beir/nq")
    assert not is_hub_name("scifact") and not is_hub_name("someone/scifact") and not is_hub_name("BeIR/a/b")


def test_a_second_split_reuses_the_loaded_corpus(monkeypatch):
    """Expansion reads another split of the dataset evaluated: its corpus is not loaded into memory again."""
    calls: list = []
    monkeypatch.setattr(datasets, "load_dataset", fake_hub(calls))
    test = load_dataset("BeIR/toy")
    calls.clear()
    train = load_dataset("BeIR/toy", "train", test.corpus)
    assert ("BeIR/toy", "corpus") not in calls and ("BeIR/toy", "queries") in calls
    assert train.corpus is test.corpus and train.qrels == {"q2": {"d1": 2}}
