"""BEIR reader: the layout, split choice, every kind of bad input, and the real SciFact files."""

from __future__ import annotations

import json
import logging

import pytest

from retriever.data.beir import read_beir
from retriever.errors import InputError
from tests.dataset_files import CORPUS, jsonl, write_beir


def test_reads_corpus_queries_and_test_qrels_by_default(tmp_path):
    dataset = read_beir(write_beir(tmp_path / "mini", corpus_name="corpus.jsonl.gz"))
    assert dataset.name == "mini" and dataset.split == "test"
    assert dataset.corpus.ids == ["d1", "d2", "d3"]
    assert dataset.corpus.titles == ["Aspirin", "", "Vitamin C"]
    assert dataset.corpus.document("d1") == "Aspirin Aspirin reduces fever."
    assert dataset.queries == {"q1": "what reduces fever", "q2": "does vitamin c cure colds"}
    assert dataset.qrels == {"q1": {"d1": 1}, "q2": {"d3": 2}}


def test_named_split_and_only_split_default(tmp_path):
    assert read_beir(write_beir(tmp_path / "a"), "train").qrels == {"q1": {"d2": 1}}
    only_train = read_beir(write_beir(tmp_path / "b", qrels={"train": ["q1\td2\t1"]}))
    assert only_train.split == "train" and only_train.qrels == {"q1": {"d2": 1}}


def test_unknown_split_lists_available_ones(tmp_path):
    with pytest.raises(InputError, match=r"unknown split 'dev'; available splits: test, train") as error:
        read_beir(write_beir(tmp_path), "dev")
    assert error.value.field == "split"


def test_several_splits_without_test_need_a_choice(tmp_path):
    root = write_beir(tmp_path, qrels={"train": ["q1\td1\t1"], "dev": ["q2\td3\t1"]})
    with pytest.raises(InputError, match="available splits: dev, train"):
        read_beir(root)


def test_title_is_optional_and_integer_ids_become_strings(tmp_path):
    corpus = [json.dumps({"_id": 5, "text": "no title here"}), json.dumps({"_id": "d1", "text": "x"})]
    dataset = read_beir(write_beir(tmp_path, corpus=corpus, qrels={"test": ["q1\t5\t1"]}))
    assert dataset.corpus.ids == ["5", "d1"] and dataset.corpus.titles == ["", ""]
    assert dataset.qrels == {"q1": {"5": 1}}


@pytest.mark.parametrize(
    ("lines", "line", "field", "message"),
    [
        (jsonl(CORPUS[:1]) + ['{"_id": "d2", "text": '], 2, None, "malformed JSON"),
        (jsonl(CORPUS[:2]) + ['["d3", "text"]'], 3, None, "expected a JSON object"),
        (jsonl(CORPUS[:1]) + [json.dumps({"title": "t", "text": "x"})], 2, "_id", "missing field"),
        ([json.dumps({"_id": "d1", "title": "t"})], 1, "text", "missing field"),
        ([json.dumps({"_id": "d1", "text": ["a", "b"]})], 1, "text", "expected a string, found list"),
        (
            jsonl(CORPUS) + [json.dumps({"_id": "d1", "text": "again"})],
            4,
            "_id",
            "duplicate document id 'd1'",
        ),
    ],
)
def test_bad_corpus_lines_name_file_line_and_field(tmp_path, lines, line, field, message):
    root = write_beir(tmp_path, corpus=lines)
    with pytest.raises(InputError, match=message) as error:
        read_beir(root)
    assert (error.value.path, error.value.line, error.value.field) == (
        str(root / "corpus.jsonl"),
        line,
        field,
    )
    assert "\n" not in str(error.value)


def test_duplicate_and_incomplete_queries(tmp_path):
    root = write_beir(
        tmp_path / "dup", queries=jsonl([{"_id": "q1", "text": "a"}, {"_id": "q1", "text": "b"}])
    )
    with pytest.raises(InputError, match=r"duplicate query id 'q1' \(first on line 1\)") as error:
        read_beir(root)
    assert (error.value.line, error.value.field) == (2, "_id")
    root = write_beir(tmp_path / "missing", queries=jsonl([{"_id": "q1"}]))
    with pytest.raises(InputError, match="missing field") as error:
        read_beir(root)
    assert (error.value.path, error.value.line, error.value.field) == (str(root / "queries.jsonl"), 1, "text")


@pytest.mark.parametrize(
    ("qrels", "line", "field", "message"),
    [
        (["query-id,corpus-id,score", "q1,d1,1"], 1, "corpus-id", "tab-separated"),
        (["query-id\tcorpus-id\tscore", "q1\td1"], 2, "score", "found 2"),
        (
            ["query-id\tcorpus-id\tscore", "q1\td1\trelevant"],
            2,
            "score",
            "grade 'relevant' is not an integer",
        ),
        (["q1\td1\t1", "q1\td1\t2"], 2, "corpus-id", "conflicting grades 1 and 2"),
    ],
)
def test_bad_qrels_name_file_line_and_field(tmp_path, qrels, line, field, message):
    root = write_beir(tmp_path, qrels={"test": qrels})
    with pytest.raises(InputError, match=message) as error:
        read_beir(root)
    assert (error.value.path, error.value.line, error.value.field) == (
        str(root / "qrels" / "test.tsv"),
        line,
        field,
    )


def test_qrels_naming_unknown_documents_or_queries_are_dropped_with_one_counted_warning(tmp_path, caplog):
    qrels = {"test": ["query-id\tcorpus-id\tscore", "q1\td1\t1", "q1\tghost\t1", "q9\td1\t1", "q2\tnope\t1"]}
    with caplog.at_level(logging.WARNING, logger="retriever.data"):
        dataset = read_beir(write_beir(tmp_path, qrels=qrels))
    assert dataset.qrels == {"q1": {"d1": 1}}
    assert len(caplog.records) == 1
    assert "dropped 1 judgments naming unknown queries and 2 naming unknown documents" in caplog.text


def test_empty_documents_are_kept_with_a_counted_warning_but_title_only_is_fine(tmp_path, caplog):
    corpus = jsonl(
        [
            {"_id": "d1", "title": "Only a title", "text": ""},
            {"_id": "d2", "title": "", "text": "  "},
            {"_id": "d3", "title": None, "text": ""},
        ]
    )
    with caplog.at_level(logging.WARNING, logger="retriever.data"):
        dataset = read_beir(write_beir(tmp_path, corpus=corpus, qrels={"test": ["q1\td1\t1"]}))
    assert dataset.corpus.ids == ["d1", "d2", "d3"]
    assert [record.getMessage().split(": ", 1)[1] for record in caplog.records] == [
        "2 documents have an empty title and text (kept)"
    ]


def test_missing_files(tmp_path):
    root = write_beir(tmp_path)
    (root / "queries.jsonl").unlink()
    with pytest.raises(InputError, match=r"missing file: expected queries.jsonl\[.gz\]"):
        read_beir(root)
    unjudged = write_beir(tmp_path / "noqrels", qrels={})
    with pytest.raises(InputError, match="missing qrels"):
        read_beir(unjudged, "test")
    corpus_only = read_beir(unjudged)  # no split asked for: a corpus to index or mine
    assert (corpus_only.split, corpus_only.qrels, len(corpus_only.corpus)) == (None, {}, 3)


def test_undecodable_and_corrupt_gzip_files(tmp_path):
    root = write_beir(tmp_path)
    (root / "queries.jsonl").write_bytes(b'{"_id": "q1", "text": "ok"}\n{"_id": "q2", "text": "\xff"}\n')
    with pytest.raises(InputError, match="not valid UTF-8") as error:
        read_beir(root)
    assert error.value.line == 2
    root = write_beir(tmp_path / "gz", corpus_name="corpus.jsonl.gz")
    (root / "corpus.jsonl.gz").write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match="cannot read file"):
        read_beir(root)


def test_blank_lines_are_skipped_and_line_numbers_stay_physical(tmp_path):
    lines = jsonl(CORPUS[:1]) + ["", '{"_id": "d2"}']
    root = write_beir(tmp_path, corpus=lines)
    with pytest.raises(InputError) as error:
        read_beir(root)
    assert error.value.line == 3


def test_real_scifact(shared_data):
    test = read_beir(shared_data / "scifact")
    assert (len(test.corpus), len(test.queries), test.split) == (5183, 1109, "test")
    assert (len(test.qrels), sum(map(len, test.qrels.values()))) == (300, 339)
    assert len(test.judged_queries()) == 300
    train = read_beir(shared_data / "scifact", "train")
    assert (len(train.qrels), sum(map(len, train.qrels.values()))) == (809, 919)
    assert sum(len(docs) >= 2 for docs in train.qrels.values()) > 50


def test_empty_query_texts_and_negative_grades_are_kept_with_counted_warnings(tmp_path, caplog):
    queries = jsonl([{"_id": "q1", "text": "protein"}, {"_id": "q2", "text": " "}])
    qrels = {"test": ["query-id\tcorpus-id\tscore", "q1\td1\t-1", "q1\td2\t1", "q2\td1\t1"]}
    with caplog.at_level(logging.WARNING, logger="retriever.data"):
        dataset = read_beir(write_beir(tmp_path, queries=queries, qrels=qrels))
    assert dataset.queries["q2"] == " " and dataset.qrels["q1"] == {"d1": -1, "d2": 1}
    messages = [record.getMessage().split(": ", 1)[1] for record in caplog.records]
    assert "1 queries have an empty text (kept; first on line 2)" in messages
    assert any(m.startswith("1 judgments have a negative grade") and "line 2" in m for m in messages)
