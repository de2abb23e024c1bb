"""The corpus store: a corpus file parsed once, then memory-mapped by every later read, with the same content."""

from __future__ import annotations

import logging

import pytest

from retriever.data import beir, corpus_store
from retriever.data.corpus_store import ArrowStrings
from retriever.data.dataset import Corpus
from retriever.data.loader import load_dataset
from retriever.errors import InputError
from tests.dataset_files import CORPUS, jsonl, write_beir, write_dpr, write_msmarco


def plain(corpus: Corpus) -> Corpus:
    """The same corpus held in Python lists (what every reader returned before the store)."""
    return Corpus(list(corpus.ids), list(corpus.titles), list(corpus.texts))


@pytest.mark.parametrize("write", [write_beir, write_msmarco, write_dpr])
def test_a_second_read_is_memory_mapped_and_equal_to_the_parsed_corpus(
    tmp_path, write, corpus_store_per_test
):
    folder = write(tmp_path / "data")
    first = load_dataset(str(folder)).corpus
    second = load_dataset(str(folder)).corpus
    assert len(list(corpus_store_per_test.glob("*.arrow"))) == 1  # and its .json: nothing else
    assert len(list(corpus_store_per_test.iterdir())) == 2
    assert isinstance(second.texts, ArrowStrings) and isinstance(second.titles, ArrowStrings)
    assert plain(second) == plain(first)
    assert second.fingerprint == plain(first).fingerprint  # recorded in the store = hashed from the lists
    assert second.joined(" - ") == plain(first).joined(" - ")
    assert [second.document(doc) for doc in second.ids] == [plain(first).document(doc) for doc in first.ids]


def test_a_corpus_streamed_in_many_batches_reads_back_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_store, "BATCH_ROWS", 2)  # 3 documents: batches of 2 and 1
    folder = write_beir(tmp_path / "data")
    corpus = load_dataset(str(folder)).corpus
    assert corpus.texts.column.num_chunks == 2
    assert corpus == Corpus(
        [r["_id"] for r in CORPUS], [r["title"] for r in CORPUS], [r["text"] for r in CORPUS]
    )
    assert corpus.joined_view()[1:3] == [CORPUS[1]["text"], f"{CORPUS[2]['title']} {CORPUS[2]['text']}"]


def test_a_stored_corpus_is_read_without_parsing(tmp_path, monkeypatch):
    folder = write_beir(tmp_path / "data")
    load_dataset(str(folder))
    monkeypatch.setattr(beir, "add_records", lambda *args: pytest.fail("parsed again"))
    assert load_dataset(str(folder)).corpus.ids == ["d1", "d2", "d3"]


def test_an_edited_file_of_the_same_size_is_parsed_again(tmp_path):
    folder = write_beir(tmp_path / "data")
    load_dataset(str(folder))
    edited = [dict(record) for record in CORPUS]
    edited[0]["text"] = edited[0]["text"].replace("fever", "FEVER")  # same length, same mtime granularity
    write_beir(folder, corpus=jsonl(edited))
    assert load_dataset(str(folder)).corpus.texts[0] == "Aspirin reduces FEVER."


def test_a_failed_parse_writes_no_store(tmp_path, corpus_store_per_test):
    folder = write_beir(tmp_path / "data", corpus=[*jsonl(CORPUS), "{not json"])
    for _ in range(2):  # the second read fails the same way: nothing was cached
        with pytest.raises(InputError, match="malformed JSON"):
            load_dataset(str(folder))
    assert not list(corpus_store_per_test.iterdir())


def test_a_corrupt_store_file_is_replaced_by_a_fresh_parse(tmp_path, corpus_store_per_test, caplog):
    folder = write_beir(tmp_path / "data")
    expected = plain(load_dataset(str(folder)).corpus)
    [stored] = corpus_store_per_test.glob("*.arrow")
    stored.write_bytes(b"truncated")
    with caplog.at_level(logging.WARNING):
        assert plain(load_dataset(str(folder)).corpus) == expected
    assert "unreadable" in caplog.text
    assert isinstance(load_dataset(str(folder)).corpus.texts, ArrowStrings)  # rewritten


def test_an_unwritable_store_keeps_the_parsed_corpus(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(corpus_store, "store_dir", lambda: blocker / "corpora")  # mkdir fails
    folder = write_beir(tmp_path / "data")
    with caplog.at_level(logging.WARNING):
        corpus = load_dataset(str(folder)).corpus
    assert corpus.texts == [record["text"] for record in CORPUS]
    assert "not written" in caplog.text


def test_a_store_write_failing_part_way_falls_back_to_memory(
    tmp_path, monkeypatch, caplog, corpus_store_per_test
):
    class FullDisk:
        def write_batch(self, batch):
            raise OSError(28, "No space left on device")

        def close(self):
            raise OSError(28, "No space left on device")

    opened = corpus_store.StoreWriter.__init__

    def open_on_a_full_disk(self, stored):
        opened(self, stored)
        self._writer.close()
        self._writer = FullDisk()

    monkeypatch.setattr(corpus_store, "BATCH_ROWS", 2)  # the first batch is sent before the parse ends
    monkeypatch.setattr(corpus_store.StoreWriter, "__init__", open_on_a_full_disk)
    folder = write_beir(tmp_path / "data")
    with caplog.at_level(logging.WARNING):
        corpus = load_dataset(str(folder)).corpus
    assert corpus.texts == [record["text"] for record in CORPUS]  # every document, the sent ones too
    assert not isinstance(corpus.texts, ArrowStrings)
    assert "not written" in caplog.text and "No space left" in caplog.text
    assert not list(corpus_store_per_test.iterdir())  # no temporary or partial file left behind


def test_arrow_strings_behave_like_a_list():
    import pyarrow as pa

    values = [f"text {i}" for i in range(20_000)]  # more rows than one iteration batch
    column = ArrowStrings(pa.chunked_array([pa.array(values[:7]), pa.array(values[7:])]))
    assert len(column) == len(values) and list(column) == values
    assert column[0] == values[0] and column[-1] == values[-1] and column[9] == values[9]
    assert column[5:12] == values[5:12] and column[::3000] == values[::3000] and column[30_000:] == []
    with pytest.raises(IndexError):
        column[len(values)]


def test_store_dir_follows_the_cache_home(monkeypatch, tmp_path):
    monkeypatch.undo()  # the real store_dir, not the per-test one
    monkeypatch.setenv("RETRIEVER_CACHE_HOME", str(tmp_path))
    assert corpus_store.store_dir() == tmp_path / "corpora"
