"""`retriever convert` and `retriever train` end to end, and one-line errors (exit 2) for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retriever.cli import app
from retriever.data.training_file import read_training_file
from tests.test_train_trainer import write_tiny_training_file
from tests.tiny_models import WORDS

runner = CliRunner()
TOPICS = [WORDS[14 + i : 18 + i] for i in range(0, 64, 4)]  # 16 disjoint sets of non-stopwords


def write_beir(root: Path) -> Path:
    """16 documents (one per topic, plus a near copy), 6 train queries with 1-2 relevant docs each."""
    docs = [{"_id": f"d{i}", "title": f"doc {i}", "text": " ".join(TOPICS[i])} for i in range(16)]
    docs += [{"_id": f"c{i}", "title": "", "text": " ".join(TOPICS[i][::-1])} for i in range(16)]
    root.mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    queries = [{"_id": f"q{i}", "text": " ".join(TOPICS[i][:2])} for i in range(8)]
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (root / "qrels").mkdir()
    rows = ["query-id\tcorpus-id\tscore"] + [f"q{i}\td{i}\t1" for i in range(6)] + ["q0\td1\t2", "q2\tc5\t0"]
    (root / "qrels" / "train.tsv").write_text("\n".join(rows) + "\n")
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq6\td6\t1\nq7\td7\t1\n")
    return root


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_convert_builds_positives_and_bm25_negatives(tmp_path):
    data = write_beir(tmp_path / "beir")
    out = tmp_path / "train.jsonl"
    result = invoke("convert", "--data", data, "--output", out, "--negatives", "3")
    assert result.exit_code == 0, result.output
    examples = {e.query_id: e for e in read_training_file(out)}
    assert sorted(examples) == [f"q{i}" for i in range(6)]  # train split only, graded >= 1
    assert [p.id for p in examples["q0"].positives] == ["d1", "d0"]  # highest grade first
    assert examples["q0"].positives[1].text == "doc 0 " + " ".join(TOPICS[0])  # title + " " + text
    for example in examples.values():
        positive_ids = {p.id for p in example.positives}
        assert 0 < len(example.negatives) <= 3 and not positive_ids & {n.id for n in example.negatives}
        scores = [n.retriever_score for n in example.negatives]
        assert scores == sorted(scores, reverse=True) and all(n.source == "bm25" for n in example.negatives)
    # q3's best non-positive BM25 hit is its reversed copy c3 (same words); --skip-top 1 drops it.
    assert examples["q3"].negatives[0].id == "c3"
    skipped = tmp_path / "skipped.jsonl"
    assert (
        invoke(
            "convert", "--data", data, "--output", skipped, "--negatives", "3", "--skip-top", "1"
        ).exit_code
        == 0
    )
    assert "c3" not in {n.id for n in read_training_file(skipped)[3].negatives}
    manifest = json.loads((tmp_path / "skipped.jsonl.manifest.json").read_text())
    assert manifest["counts"]["queries_with_several_positives"] == 1


def test_convert_breaks_ties_as_trec_eval_does(tmp_path):
    """Equal BM25 scores (three copies of one text) and equal grades: document id descending."""
    data = write_beir(tmp_path / "beir")
    copies = [{"_id": doc, "title": "", "text": " ".join(TOPICS[3][::-1])} for doc in ("e3", "f3")]
    with (data / "corpus.jsonl").open("a") as corpus:
        corpus.writelines(json.dumps(d) + "\n" for d in copies)
    with (data / "qrels" / "train.tsv").open("a") as qrels:
        qrels.write("q4\td10\t1\nq4\td9\t1\n")
    out = tmp_path / "train.jsonl"
    assert invoke("convert", "--data", data, "--output", out, "--negatives", "3").exit_code == 0
    examples = {e.query_id: e for e in read_training_file(out)}
    assert [n.id for n in examples["q3"].negatives] == ["f3", "e3", "c3"]
    assert [p.id for p in examples["q4"].positives] == ["d9", "d4", "d10"]


def test_convert_never_overwrites_the_manifest_of_mine(tmp_path):
    data = write_beir(tmp_path / "beir")
    mined = tmp_path / "mined"
    mined.mkdir()
    (mined / "manifest.json").write_text('{"eci": "kept"}')
    assert invoke("convert", "--data", data, "--output", mined / "convert.jsonl").exit_code == 0
    assert json.loads((mined / "manifest.json").read_text()) == {"eci": "kept"}
    assert (mined / "convert.jsonl.manifest.json").is_file()


def test_train_end_to_end_then_eval(tiny_bi_encoder, tmp_path):
    from sentence_transformers import SentenceTransformer

    data = write_tiny_training_file(tmp_path / "train.jsonl")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("train:\n  loss: jointlh\n  epochs: 3\n  lr: 0.001\n  max_positives: 2\n")
    out = tmp_path / "model"
    result = invoke(
        "train", "--data", data, "--model", tiny_bi_encoder, "--config", recipe, "--set", "hard_negatives=1",
        "--epochs", "1", "--batch-size", "4", "--output", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "train_config.json").read_text())
    assert (saved["loss"], saved["epochs"], saved["hard_negatives"], saved["lr"]) == ("jointlh", 1, 1, 0.001)
    embeddings = SentenceTransformer(str(out), device="cpu").encode(["protein cell", "paris france"])
    assert embeddings.shape == (2, 32)
    beir = write_beir(tmp_path / "beir")
    evaluated = invoke(
        "eval", "--model", out, "--data", beir, "--split", "test", "--output", tmp_path / "eval"
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert 0.0 <= json.loads((tmp_path / "eval" / "report.json").read_text())["metrics"]["nDCG@10"] <= 1.0


def _line(record: dict) -> str:
    return json.dumps(record) + "\n"


GOOD = {"query_id": "q1", "query": "protein", "positives": [{"id": "d1", "text": "protein cell"}]}


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (_line({**GOOD, "positives": []}), [], "train.jsonl:1: field 'positives': query has no positives"),
        (_line(GOOD) + _line({**GOOD, "query_id": "q2", "positives": [{"id": "d2"}]}), [],
         "train.jsonl:2: field 'positives.0.text': Field required"),
        (_line({**GOOD, "positives": [{"id": "d1", "text": "  "}]}), [], "field 'positives.0.text'"),
        ("", [], "train.jsonl: training file has no examples"),
        (_line(GOOD) + _line({**GOOD, "query_id": "q2"}).replace("protein", "caf\udce9", 1), [],
         "train.jsonl:2: not valid UTF-8"),
        (_line(GOOD) + "{oops\n", [], "train.jsonl:2: malformed JSON"),
        (_line(GOOD), ["--loss", "lsepar"], "unknown loss 'lsepar'"),
        (_line(GOOD), ["--max-positives", "0"], "field 'max_positives': Input should be greater"),
        (_line(GOOD), ["--positive-source", "llm"], "no query has a positive with source in ['llm']"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2_before_loading_a_model(tmp_path, content, args, message):
    data = tmp_path / "train.jsonl"
    data.write_bytes(content.encode("utf-8", "surrogateescape"))  # \udce9: the lone byte 0xe9
    # The model path does not exist: the data error must be reported before any model is loaded.
    result = invoke(
        "train", "--data", data, "--model", tmp_path / "no-model", "--output", tmp_path / "o", *args
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1


def test_an_option_and_a_set_of_the_same_field_is_an_error(tmp_path):
    data = write_tiny_training_file(tmp_path / "train.jsonl")
    result = invoke(
        "train", "--data", data, "--model", tmp_path / "m", "--output", tmp_path / "o",
        "--max-positives", "3", "--set", "max_positives=abc",
    )  # fmt: skip
    assert result.exit_code == 2 and "both set it" in result.output and result.output.count("\n") == 1


def test_convert_of_the_test_split_warns(tmp_path):
    data = write_beir(tmp_path / "beir")
    result = invoke("convert", "--data", data, "--output", tmp_path / "t.jsonl", "--split", "test")
    assert result.exit_code == 0 and "warning: converting the test split" in result.output
