"""Atomic writes (retriever.files): complete or absent, never a temporary file left, old file kept on failure."""

from __future__ import annotations

import json

import pytest

from retriever.data.training_file import Positive, TrainingExample, write_training_file
from retriever.files import atomic_open, atomic_path, atomic_write_json, atomic_write_text, replace_directory


def test_writes_text_and_json_leaving_only_the_target(tmp_path):
    target = tmp_path / "report.md"
    atomic_write_text(target, "naïve résumé\n")
    assert target.read_bytes() == "naïve résumé\n".encode()
    atomic_write_json(tmp_path / "report.json", {"b": 1, "a": [1, 2]}, sort_keys=True)
    assert (tmp_path / "report.json").read_text() == json.dumps({"a": [1, 2], "b": 1}, indent=2) + "\n"
    atomic_write_json(tmp_path / "flat.json", {"a": 1}, indent=None)
    assert (tmp_path / "flat.json").read_text() == '{"a": 1}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flat.json", "report.json", "report.md"]


def test_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "run.trec"
    target.write_text("old\n")
    with pytest.raises(RuntimeError, match="disk full"), atomic_open(target) as handle:
        handle.write("new, half written")
        handle.flush()
        assert target.read_text() == "old\n"  # the target is untouched while the content is written
        raise RuntimeError("disk full")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["run.trec"]


def test_unencodable_json_keeps_the_old_file(tmp_path):
    target = tmp_path / "manifest.json"
    target.write_text("{}\n")
    with pytest.raises(TypeError):
        atomic_write_json(target, {"bad": object()})
    assert target.read_text() == "{}\n" and [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_temporary_files_are_hidden_beside_the_target_and_unique(tmp_path):
    target = tmp_path / "embeddings.npy"
    with atomic_path(target) as first, atomic_path(target) as second:
        assert first != second
        for tmp in (first, second):
            assert tmp.parent == tmp_path and tmp.name.startswith(".embeddings.npy.") and tmp.suffix == ".tmp"
        first.write_bytes(b"1")
        second.write_bytes(b"2")
    assert target.read_bytes() == b"1"  # the outer block finishes last and wins
    assert [p.name for p in tmp_path.iterdir()] == ["embeddings.npy"]


def test_binary_mode_and_bad_modes(tmp_path):
    with atomic_open(tmp_path / "shard.npy", "wb") as handle:
        handle.write(b"\x00\x01")
    assert (tmp_path / "shard.npy").read_bytes() == b"\x00\x01"
    with pytest.raises(ValueError, match="mode"), atomic_open(tmp_path / "x", "a"):
        pass
    assert [p.name for p in tmp_path.iterdir()] == ["shard.npy"]


def test_training_file_interrupted_mid_stream_keeps_the_previous_file(tmp_path):
    def examples(count):
        return [
            TrainingExample(query_id=f"q{i}", query="q", positives=[Positive(id="d", text="t")])
            for i in range(count)
        ]

    path = tmp_path / "train.jsonl"
    assert write_training_file(path, examples(2)) == 2
    before = path.read_bytes()

    def broken():
        yield from examples(1)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_training_file(path, broken())
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["train.jsonl"]


def test_replace_directory_puts_the_staged_folder_in_place(tmp_path):
    target = tmp_path / "index"
    for content in ("first", "second"):  # absent, then an existing folder replaced
        staging = tmp_path / ".index.building"
        staging.mkdir()
        (staging / "data.txt").write_text(content)
        assert replace_directory(staging, target) == target
        assert [p.name for p in target.iterdir()] == ["data.txt"]
        assert (target / "data.txt").read_text() == content
        assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]  # nothing left beside it
