"""MS MARCO reader: collection/queries/TREC qrels, split files, bad input, and the real TREC DL 2019 pool."""

from __future__ import annotations

import pytest

from retriever.data.msmarco import read_msmarco
from retriever.errors import InputError
from tests.dataset_files import write_lines, write_msmarco


def test_reads_collection_queries_and_space_or_tab_separated_qrels(tmp_path):
    dataset = read_msmarco(write_msmarco(tmp_path / "dl"))
    assert (dataset.name, dataset.split) == ("dl", "test")
    assert dataset.corpus.ids == ["7", "8", "9"]
    assert dataset.corpus.titles == ["", "", ""]
    assert dataset.corpus.texts[2] == "Madrid\tis in Spain."  # a tab inside a passage is kept
    assert dataset.queries == {"100": "capital of france", "200": "where is madrid"}
    assert dataset.qrels == {"100": {"7": 3, "8": 0}, "200": {"9": 2}}


def test_split_files_take_their_own_queries(tmp_path):
    root = write_msmarco(tmp_path)
    write_lines(root / "qrels.dev.tsv", ["300 0 8 1"])
    write_lines(root / "queries.dev.tsv", ["300\twhere is berlin"])
    dev = read_msmarco(root, "dev")
    assert (dev.split, dev.queries, dev.qrels) == ("dev", {"300": "where is berlin"}, {"300": {"8": 1}})
    assert read_msmarco(root).split == "test"  # plain qrels.tsv is the test split
    with pytest.raises(InputError, match="available splits: dev, test"):
        read_msmarco(root, "train")


@pytest.mark.parametrize(
    ("qrels", "line", "field", "message"),
    [
        (["100 0 7 3", "100,0,8,0"], 2, "iteration", "separated by spaces or tabs, found 1"),
        (["100 0 7"], 1, "grade", "found 3"),
        (["100 0 7 high"], 1, "grade", "grade 'high' is not an integer"),
        (["100 0 7 2.5"], 1, "grade", "not an integer"),
    ],
)
def test_bad_qrels(tmp_path, qrels, line, field, message):
    root = write_msmarco(tmp_path, qrels=qrels)
    with pytest.raises(InputError, match=message) as error:
        read_msmarco(root)
    assert (error.value.path, error.value.line, error.value.field) == (str(root / "qrels.tsv"), line, field)


def test_bad_collection_and_queries(tmp_path):
    root = write_msmarco(tmp_path / "a", collection=["7\tfine", "8 no tab here"])
    with pytest.raises(InputError, match="tab-separated") as error:
        read_msmarco(root)
    assert (error.value.path, error.value.line, error.value.field) == (
        str(root / "collection.tsv.gz"),
        2,
        "passage",
    )
    root = write_msmarco(tmp_path / "b", collection=["7\tone", "8\ttwo", "7\tthree"])
    with pytest.raises(InputError, match=r"duplicate document id '7' \(first on line 1\)") as error:
        read_msmarco(root)
    assert (error.value.line, error.value.field) == (3, "pid")
    root = write_msmarco(tmp_path / "c", queries=["100\ta", "100\tb"])
    with pytest.raises(InputError, match="duplicate query id '100'") as error:
        read_msmarco(root)
    assert (error.value.path, error.value.line, error.value.field) == (str(root / "queries.tsv"), 2, "qid")


def test_unknown_ids_in_qrels_are_dropped(tmp_path, caplog):
    dataset = read_msmarco(write_msmarco(tmp_path, qrels=["100 0 7 1", "100 0 999 1", "555 0 7 1"]))
    assert dataset.qrels == {"100": {"7": 1}}
    assert "dropped 1 judgments naming unknown queries and 1 naming unknown documents" in caplog.text


def test_without_qrels_only_an_explicit_split_fails(tmp_path):
    root = write_msmarco(tmp_path)
    (root / "qrels.tsv").unlink()
    dataset = read_msmarco(root)
    assert (dataset.split, dataset.qrels, len(dataset.queries)) == (None, {}, 2)
    with pytest.raises(InputError, match="missing qrels"):
        read_msmarco(root, "dev")


def test_missing_collection(tmp_path):
    root = write_msmarco(tmp_path)
    (root / "collection.tsv.gz").unlink()
    with pytest.raises(InputError, match=r"missing file: expected collection.tsv\[.gz\]"):
        read_msmarco(root)


def test_real_trec_dl19_pool(shared_data):
    dataset = read_msmarco(shared_data / "msmarco-dl19-judged")
    assert (len(dataset.corpus), len(dataset.queries), len(dataset.qrels)) == (10818, 43, 43)
    grades = [grade for docs in dataset.qrels.values() for grade in docs.values()]
    assert len(grades) == 9260 and set(grades) == {0, 1, 2, 3}
    assert all(any(grade >= 2 for grade in docs.values()) for docs in dataset.qrels.values())
