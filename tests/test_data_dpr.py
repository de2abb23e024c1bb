"""DPR/NQ reader: passages with csv quoting; questions as JSON list, JSON lines or qa.csv; answers, qrels."""

from __future__ import annotations

import json

import pytest

from retriever.data.dpr import read_dpr
from retriever.errors import InputError
from tests.dataset_files import QUESTIONS, write_dpr, write_lines


def test_biencoder_json_gives_answers_and_qrels_from_positive_contexts(tmp_path):
    dataset = read_dpr(write_dpr(tmp_path / "nq"))
    assert (dataset.name, dataset.split) == ("nq", "test")
    assert dataset.corpus.ids == ["1", "2", "3"]
    assert dataset.corpus.titles[0] == "Aaron"
    assert (
        dataset.corpus.texts[0]
        == 'Aaron ( or ; "Ahärôn") is a prophet, high priest, and the brother of Moses.'
    )
    assert dataset.queries == {
        "0": "who was the brother of moses",
        "1": "when was the eiffel tower completed",
    }
    assert dataset.answers == {"0": ["Aaron"], "1": ["1889"]}
    assert dataset.qrels == {"0": {"1": 1}, "1": {"3": 1}}
    assert dataset.judged_queries() == dataset.queries


def test_qa_csv_has_answers_only(tmp_path):
    root = write_dpr(tmp_path, questions=[])
    (root / "biencoder-nq-test.json").unlink()
    write_lines(
        root / "nq-dev.qa.csv",
        ["who was the brother of moses\t['Aaron', 'Aharon']", "where is paris\t['France']"],
    )
    dataset = read_dpr(root)
    assert dataset.split == "dev"
    assert dataset.answers == {"0": ["Aaron", "Aharon"], "1": ["France"]}
    assert dataset.qrels == {}
    assert list(dataset.judged_queries()) == ["0", "1"]


def test_jsonl_questions_with_ids(tmp_path):
    root = write_dpr(tmp_path, questions=[])
    (root / "biencoder-nq-test.json").unlink()
    records = [{"id": "nq-7", "question": "brother of moses", "answers": ["Aaron"]}]
    write_lines(root / "train.jsonl", [json.dumps(record) for record in records])
    dataset = read_dpr(root, "train")
    assert dataset.queries == {"nq-7": "brother of moses"} and dataset.answers == {"nq-7": ["Aaron"]}


@pytest.mark.parametrize(
    ("question", "field", "message"),
    [
        ({"answers": ["x"]}, "question", "missing field"),
        ({"question": "q", "answers": "x"}, "answers", "expected a list of answer strings"),
        (
            {"question": "q", "answers": ["x"], "positive_ctxs": [{"title": "no id"}]},
            "positive_ctxs.passage_id",
            "missing field",
        ),
    ],
)
def test_bad_questions_name_position_and_field(tmp_path, question, field, message):
    root = write_dpr(tmp_path, questions=[QUESTIONS[0], question])
    with pytest.raises(InputError, match=message) as error:
        read_dpr(root)
    assert (error.value.path, error.value.line, error.value.field) == (
        str(root / "biencoder-nq-test.json"),
        2,
        field,
    )


def test_bad_answer_literal_and_passage_rows(tmp_path):
    root = write_dpr(tmp_path / "a", questions=[])
    (root / "biencoder-nq-test.json").unlink()
    write_lines(root / "nq-test.qa.csv", ["ok\t['a']", "bad\t[unclosed"])
    with pytest.raises(InputError, match="list literal") as error:
        read_dpr(root)
    assert (error.value.line, error.value.field) == (2, "answers")
    root = write_dpr(tmp_path / "b")
    write_lines(root / "psgs_w100.tsv", ["id\ttext\ttitle", "1\tonly text"])
    with pytest.raises(InputError, match="found 2") as error:
        read_dpr(root)
    assert (error.value.line, error.value.field) == (2, "title")


def test_malformed_json_and_ambiguous_split_files(tmp_path):
    root = write_dpr(tmp_path / "a")
    (root / "biencoder-nq-test.json").write_text('[{"question": "q",\n "answers": [}]', encoding="utf-8")
    with pytest.raises(InputError, match="malformed JSON") as error:
        read_dpr(root)
    assert error.value.line == 2
    root = write_dpr(tmp_path / "b")
    write_lines(root / "nq-test.qa.csv", ["q\t['a']"])
    with pytest.raises(InputError, match="two questions files for split 'test'"):
        read_dpr(root)


def test_positive_contexts_outside_the_passages_are_dropped(tmp_path, caplog):
    question = {
        "question": "q",
        "answers": ["a"],
        "positive_ctxs": [{"passage_id": "2"}, {"passage_id": "404"}],
    }
    dataset = read_dpr(write_dpr(tmp_path, questions=[question]))
    assert dataset.qrels == {"0": {"2": 1}}
    assert "dropped 0 judgments naming unknown queries and 1 naming unknown documents" in caplog.text
