"""Every command that writes checks its output path before any work: one line, exit 2, nothing written."""

from __future__ import annotations

import pytest

from retriever.errors import InputError
from retriever.outputs import require_output_dir, require_output_file
from tests.test_train_cli import invoke, write_beir
from tests.test_train_trainer import write_tiny_training_file


def test_output_checks(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(InputError, match="must be a folder, but a file"):
        require_output_dir(a_file)
    with pytest.raises(InputError, match="a-file is a file, not a folder"):
        require_output_dir(a_file / "sub" / "deeper")
    with pytest.raises(InputError, match="must be a file, but a folder"):
        require_output_file(tmp_path)
    with pytest.raises(InputError, match="a-file is a file, not a folder"):
        require_output_file(a_file / "train.jsonl")
    assert require_output_dir(tmp_path / "new" / "dir") == tmp_path / "new" / "dir"
    assert not (tmp_path / "new").exists()  # checking creates nothing
    assert require_output_file(a_file) == a_file  # an existing file may be replaced


@pytest.mark.parametrize("target", ["file", "under-file"])
def test_every_writing_command_refuses_a_bad_output_first(tmp_path, tiny_bi_encoder, target):
    data = write_beir(tmp_path / "beir")
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    out = blocker if target == "file" else blocker / "sub"
    training = write_tiny_training_file(tmp_path / "train.jsonl")
    commands = {
        "eval": ["eval", "--data", data, "--retriever", "bm25", "--output", out],
        "mine": [
            "mine",
            "--data",
            data,
            "--output",
            out,
            "--bi-encoder",
            tiny_bi_encoder,
            "--strategy",
            "bm25",
        ],
        "train": ["train", "--data", training, "--model", tiny_bi_encoder, "--output", out],
        "index": ["index", "--model", tiny_bi_encoder, "--data", data, "--output", out],
        "push": ["push", tiny_bi_encoder, "--repo-id", "me/model", "--dry-run", "--output", out],
    }
    if target == "under-file":
        commands["convert"] = ["convert", "--data", data, "--output", out / "train.jsonl"]
    for name, args in commands.items():
        result = invoke(*args)
        assert result.exit_code == 2, (name, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "blocker" in lines[0] and "Traceback" not in result.output, (name, lines)
    assert blocker.read_text() == "not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["beir", "blocker", "train.jsonl"]
