"""LLM judges: strict prompt parsing, the OpenAI-compatible client against a loopback server with injected
faults (every judgement arrives once, counters right), the SQLite cache, and the local transformers judge."""

from __future__ import annotations

import email.utils
import time

import pytest

from retriever.errors import InputError, RetrieverError
from retriever.mine.config import JudgeConfig
from retriever.mine.judges.cache import JudgeKey, JudgementCache
from retriever.mine.judges.openai import OpenAIBackend, retry_after_seconds
from retriever.mine.judges.prompts import LISTWISE_SELECTED, PROMPTS, ParseError, messages, parse
from retriever.mine.judges.runner import JudgeCounters, Request, judge_all
from tests.fake_openai import FakeOpenAI, grade_of

PASSAGES = [(f"d{i}", f"passage number {i} about protein {i * 7}") for i in range(6)]
REQUESTS = [
    Request("q1", "what does protein do", PASSAGES[:4]),
    Request("q2", "is the virus deadly", PASSAGES[3:]),
]
PAIRS = {(r.query_id, pid): text for r in REQUESTS for pid, text in r.passages}


def _config(server: FakeOpenAI, **overrides) -> JudgeConfig:
    base = dict(
        kind="openai",
        model="judge-m",
        base_url=server.base_url,
        concurrency=1,
        timeout_s=2.0,
        backoff_s=0.01,
        max_backoff_s=0.05,
        max_attempts=4,
    )
    return JudgeConfig(**{**base, **overrides})


def _run(config: JudgeConfig, db, requests=REQUESTS):
    counters = JudgeCounters()
    with JudgementCache(db) as cache:
        verdicts = judge_all(OpenAIBackend(config), config, cache, requests, counters)
    return verdicts, counters


# ---- prompts and parsers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, grade", [('{"grade": 2}', 2), (' {"grade":0}\n', 0), ('```json\n{"grade": 3}\n```', 3)]
)
def test_pointwise_parser_accepts_exact_answers(text, grade):
    assert parse(PROMPTS["pointwise"], text, 1) == [grade]


@pytest.mark.parametrize(
    "text",
    [
        '{"grade": 4}',
        '{"grade": -1}',
        '{"grade": true}',
        '{"grade": 2.5}',
        '{"grade": "2"}',
        '{"grade": 2, "x": 1}',
        "2",
        "grade: 2",
        '{"grade": 2',
        "",
        '[{"grade": 2}]',
        'Sure! {"grade": 2}',
    ],
)
def test_pointwise_parser_rejects_anything_else(text):
    with pytest.raises(ParseError):
        parse(PROMPTS["pointwise"], text, 1)


def test_listwise_parser_maps_selection_to_grades():
    assert parse(PROMPTS["listwise"], '{"relevant": [3, 1]}', 4) == [
        LISTWISE_SELECTED,
        0,
        LISTWISE_SELECTED,
        0,
    ]
    assert parse(PROMPTS["listwise"], '{"relevant": []}', 2) == [0, 0]
    for bad in (
        '{"relevant": [5]}',
        '{"relevant": [0]}',
        '{"relevant": [1, 1]}',
        '{"relevant": "1"}',
        '{"rel": []}',
    ):
        with pytest.raises(ParseError):
            parse(PROMPTS["listwise"], bad, 4)


def test_prompts_carry_versions_and_passages():
    assert PROMPTS["pointwise"].version != PROMPTS["listwise"].version
    chat = messages(PROMPTS["listwise"], "q?", ["alpha", "beta"])
    assert "[1] alpha" in chat[-1]["content"] and "[2] beta" in chat[-1]["content"]
    with pytest.raises(ValueError):
        messages(PROMPTS["pointwise"], "q?", ["a", "b"])


def test_retry_after_header_forms():
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= retry_after_seconds(later) <= 31


# ---- the HTTP judge ----------------------------------------------------------------------------


def test_every_fault_is_retried_and_every_judgement_arrives_once(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    faults = ["500", "429", "slow", "malformed", "empty", "garbage"]
    with FakeOpenAI(faults=list(faults), slow_s=0.6) as server:
        config = _config(server, timeout_s=0.3, max_attempts=len(faults) + 1)
        verdicts, counters = _run(config, tmp_path / "j.sqlite")
    assert set(verdicts) == set(PAIRS)
    for (qid, pid), verdict in verdicts.items():
        assert verdict.status == "ok" and verdict.grade == grade_of(PAIRS[qid, pid])
    queries = {r.query_id: r.query for r in REQUESTS}
    assert server.answered == {(queries[q], text): 1 for (q, _), text in PAIRS.items()}
    assert counters.calls == len(PAIRS) + len(faults) == server.requests
    assert counters.retries == len(faults) and counters.failures == 0 and counters.judged == len(PAIRS)
    assert counters.faults == {
        "server_error": 1,
        "rate_limited": 1,
        "timeout": 1,
        "malformed_json": 1,
        "empty_choices": 1,
        "unparseable": 1,
    }
    assert counters.prompt_tokens == 10 * (len(PAIRS) + 1)  # every answered call reports usage, garbage too
    assert server.auth == {"Bearer sk-secret"} and server.models == {"judge-m": len(PAIRS) + 1}


def test_cached_judgements_are_never_requested_again(tmp_path):
    with FakeOpenAI() as server:
        first, _ = _run(_config(server), tmp_path / "j.sqlite")
        requests_after_first = server.requests
        second, counters = _run(_config(server), tmp_path / "j.sqlite")
    assert requests_after_first == len(PAIRS) and server.requests == len(PAIRS)
    assert second == first and counters.cache_hits == len(PAIRS) and counters.calls == 0


def test_structured_output_sends_the_prompt_schema(tmp_path):
    from retriever.mine.judges.prompts import GRADE_SCHEMA, SELECTION_SCHEMA

    with FakeOpenAI() as server:
        _run(_config(server), tmp_path / "a.sqlite", REQUESTS[:1])
        _run(_config(server, prompt="listwise"), tmp_path / "b.sqlite", REQUESTS[:1])
        _run(_config(server, structured=False), tmp_path / "c.sqlite", REQUESTS[:1])
    formats = server.response_formats
    assert formats[0]["type"] == "json_schema" and formats[0]["json_schema"]["schema"] == GRADE_SCHEMA
    assert any(f and f["json_schema"]["schema"] == SELECTION_SCHEMA for f in formats)
    assert formats[-1] is None


def test_cache_key_includes_model_and_prompt_version(tmp_path):
    with FakeOpenAI() as server:
        _run(_config(server), tmp_path / "j.sqlite")
        _run(_config(server, model="other"), tmp_path / "j.sqlite")
        _run(_config(server, prompt="listwise"), tmp_path / "j.sqlite")
    assert server.requests == 2 * len(PAIRS) + len(REQUESTS)
    with JudgementCache(tmp_path / "j.sqlite") as cache:
        assert len(cache.load(JudgeKey("openai", "judge-m", PROMPTS["pointwise"].version))) == len(PAIRS)
        assert len(cache.load(JudgeKey("openai", "judge-m", PROMPTS["listwise"].version))) == len(PAIRS)


def test_spent_retry_budget_records_failure_not_grade(tmp_path):
    request = [Request("q1", "what does protein do", PASSAGES[:1])]
    with FakeOpenAI(faults=["garbage", "500", "garbage"]) as server:
        verdicts, counters = _run(_config(server, max_attempts=3), tmp_path / "j.sqlite", request)
        (verdict,) = verdicts.values()
        assert verdict.status == "failed" and verdict.grade is None and verdict.attempts == 3
        assert verdict.error.startswith("unparseable")
        assert counters.failures == 1 and counters.judged == 0 and counters.calls == 3
    # A failure is not a verdict: a rerun with a working server asks again and replaces it.
    with FakeOpenAI() as healed:
        verdicts, again = _run(_config(healed, max_attempts=3), tmp_path / "j.sqlite", request)
    assert healed.requests == 1 and again.cache_hits == 0 and again.calls == 1
    (verdict,) = verdicts.values()
    assert verdict.status == "ok" and verdict.grade == grade_of(PASSAGES[0][1])
    with FakeOpenAI() as third:
        _, cached = _run(_config(third, max_attempts=3), tmp_path / "j.sqlite", request)
    assert third.requests == 0 and cached.cache_hits == 1


def test_refused_key_stops_with_one_line_error_without_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-print")
    with FakeOpenAI(faults=["401"]) as server, pytest.raises(RetrieverError) as info:
        _run(_config(server), tmp_path / "j.sqlite", REQUESTS[:1])
    message = str(info.value)
    assert "401" in message and "sk-do-not-print" not in message and "\n" not in message


def test_listwise_windows_and_concurrency_limit(tmp_path):
    many = [Request(f"q{i}", f"query {i}", PASSAGES) for i in range(6)]
    with FakeOpenAI(slow_s=0.05, faults=["slow"] * 12) as server:
        config = _config(server, prompt="listwise", listwise_window=4, concurrency=3)
        verdicts, counters = _run(config, tmp_path / "j.sqlite", many)
    assert counters.calls == server.requests == 6 * 2  # 6 passages in windows of 4 and 2
    assert 1 < server.max_in_flight <= 3
    for (_, pid), verdict in verdicts.items():
        expected = LISTWISE_SELECTED if grade_of(dict(PASSAGES)[pid]) >= 2 else 0
        assert verdict.grade == expected


# ---- several endpoints -------------------------------------------------------------------------

DEAD = "http://127.0.0.1:9/v1"  # nothing listens on the discard port


def test_base_url_is_one_url_or_a_list_and_bad_ones_are_refused():
    assert JudgeConfig(base_url="http://h:1/v1/").base_url == ["http://h:1/v1"]
    assert JudgeConfig(base_url=["http://a/v1", "https://b/v1"]).base_url == ["http://a/v1", "https://b/v1"]
    for bad, message in (
        ([], "at least 1"),
        (["localhost:8000/v1"], "does not start with http"),
        (["http://a/v1", "http://a/v1/"], "listed twice"),
    ):
        with pytest.raises(ValueError, match=message):
            JudgeConfig(base_url=bad)


def test_calls_alternate_over_endpoints_and_a_rerun_asks_neither(tmp_path):
    with FakeOpenAI() as a, FakeOpenAI() as b:
        config = _config(a, base_url=[a.base_url, b.base_url])  # one call at a time: strict alternation
        verdicts, counters = _run(config, tmp_path / "j.sqlite")
        assert (a.requests, b.requests) == (4, 3) and counters.calls == len(PAIRS) == 7
        assert all(v.status == "ok" and v.grade == grade_of(PAIRS[pair]) for pair, v in verdicts.items())
        again, cached = _run(config, tmp_path / "j.sqlite")
        assert (a.requests, b.requests) == (4, 3) and cached.cache_hits == len(PAIRS) and cached.calls == 0
    assert again == verdicts


def test_a_call_that_faults_on_one_endpoint_is_retried_on_another(tmp_path):
    with FakeOpenAI(faults=["500"]) as a, FakeOpenAI() as b:
        config = _config(a, base_url=[a.base_url, b.base_url])
        verdicts, counters = _run(config, tmp_path / "j.sqlite", REQUESTS[:1])
    first = (REQUESTS[0].query, PASSAGES[0][1])  # the first call went to a and got the 500
    assert a.answered[first] == 0 and b.answered[first] == 1
    assert counters.faults == {"server_error": 1} and counters.retries == 1 and counters.failures == 0
    assert all(v.status == "ok" for v in verdicts.values()) and verdicts["q1", "d0"].attempts == 2


def test_a_dead_endpoint_costs_each_call_at_most_one_attempt(tmp_path):
    many = [Request(f"q{i}", f"query {i}", PASSAGES) for i in range(4)]
    with FakeOpenAI() as live:
        # two attempts per call: a call whose retry went back to the dead endpoint would fail
        config = _config(
            live, base_url=[DEAD, live.base_url], concurrency=3, max_attempts=2, max_backoff_s=1.0
        )
        verdicts, counters = _run(config, tmp_path / "j.sqlite", many)
    assert len(verdicts) == 24 and all(v.status == "ok" for v in verdicts.values())
    assert counters.failures == 0 and live.requests == 24 and set(counters.faults) == {"connection"}
    assert counters.faults["connection"] < 12  # resting keeps most first attempts off the dead endpoint
    assert counters.calls == 24 + counters.faults["connection"]


def test_endpoints_rest_after_a_fault_honour_retry_after_and_probe_once(monkeypatch):
    from retriever.mine.judges import openai
    from retriever.mine.judges.runner import RetryableError

    now = [100.0]
    monkeypatch.setattr(openai.time, "monotonic", lambda: now[0])
    config = JudgeConfig(base_url=["http://a/v1", "http://b/v1"], backoff_s=1.0, max_backoff_s=4.0)
    endpoints = openai.Endpoints(config.base_url, config)
    a, b = endpoints.endpoints
    assert [endpoints.acquire() for _ in range(3)] == [a, b, a]  # fewest in flight, ties in turn
    endpoints.release(a, RetryableError("connection"))  # rests 4 + 1 s
    endpoints.release(a, RetryableError("unparseable"))  # an answer, however bad: a is well again
    assert a.resting_until == 0.0
    endpoints.release(endpoints.acquire(), RetryableError("rate_limited", retry_after=60.0))
    endpoints.release(b, RetryableError("server_error"))
    assert (a.resting_until, b.resting_until) == (160.0, 105.0) and a.in_flight == b.in_flight == 0
    assert endpoints.acquire() is b and b.probing  # none ready: the rest that ends first
    now[0] = 106.0
    assert endpoints.acquire() is b  # probing b (after its rest) is still the only choice
    now[0] = 161.0
    probe = endpoints.acquire()
    assert probe is a and a.probing and endpoints.acquire() is b  # a's probe is out: nothing else to a
    endpoints.release(probe, None)
    assert a.resting_until == 0.0 and not a.probing and endpoints.acquire() is a


# ---- the local transformers judge --------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_causal_lm(tmp_path_factory):
    """A 1-layer GPT-2 with random weights and the tiny WordPiece vocabulary: its answers never parse."""
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from tests.tiny_models import build_tokenizer_dir

    out = build_tokenizer_dir(tmp_path_factory.mktemp("models") / "tiny-gpt2")
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=512, n_embd=16, n_layer=1, n_head=2)
    GPT2LMHeadModel(config).save_pretrained(str(out))
    return out


def test_hf_judge_counts_unparseable_answers_as_failures(tmp_path, tiny_causal_lm):
    from retriever.mine.judges.hf import HFBackend

    config = JudgeConfig(kind="hf", model=str(tiny_causal_lm), max_attempts=2, max_tokens=4, backoff_s=0)
    backend = HFBackend(config)
    counters = JudgeCounters()
    with JudgementCache(tmp_path / "j.sqlite") as cache:
        verdicts = judge_all(backend, config, cache, REQUESTS[:1], counters)
    assert all(v.status == "failed" for v in verdicts.values()) and len(verdicts) == 4
    assert counters.faults == {"unparseable": 8} and counters.calls == 8 and counters.failures == 4
    assert counters.completion_tokens > 0 and counters.prompt_tokens > 0


def test_hf_judge_refuses_an_encoder_with_one_line(tiny_bi_encoder):
    from retriever.mine.judges.hf import HFBackend

    with pytest.raises(InputError, match="not a generative .*BertModel") as info:
        HFBackend(JudgeConfig(kind="hf", model=str(tiny_bi_encoder)))
    assert "\n" not in str(info.value)


def test_hf_judge_grades_when_the_model_answers_in_format(tmp_path, tiny_causal_lm, monkeypatch):
    from retriever.mine.judges import hf
    from retriever.mine.judges.runner import Completion

    config = JudgeConfig(kind="hf", model=str(tiny_causal_lm), backoff_s=0, concurrency=1)
    backend = hf.HFBackend(config)
    answers = iter(['{"grade": 3}', "nonsense", '{"grade": 1}', '{"grade": 0}', '{"grade": 2}'])
    monkeypatch.setattr(backend, "_generate", lambda chat, attempt: Completion(next(answers), 5, 2))
    counters = JudgeCounters()
    with JudgementCache(tmp_path / "j.sqlite") as cache:
        verdicts = judge_all(backend, config, cache, REQUESTS[:1], counters)
    assert [verdicts["q1", pid].grade for pid, _ in PASSAGES[:4]] == [3, 1, 0, 2]
    assert counters.retries == 1 and counters.faults == {"unparseable": 1} and counters.prompt_tokens == 25


def test_hf_judge_that_cannot_load_is_one_line_error(tmp_path):
    from retriever.errors import InputError
    from retriever.mine.judges.hf import HFBackend

    with pytest.raises(InputError, match="cannot load judge model"):
        HFBackend(JudgeConfig(kind="hf", model=str(tmp_path / "missing")))


def test_backoff_is_exponential_with_jitter_and_honours_retry_after(monkeypatch):
    from retriever.mine.judges import runner

    config = JudgeConfig(kind="openai", model="m", backoff_s=1.0, max_backoff_s=5.0)
    monkeypatch.setattr(runner.random, "uniform", lambda low, high: high)  # the largest jitter
    assert [runner._delay(config, a, None) for a in (1, 2, 3, 4)] == [2.0, 3.0, 5.0, 6.0]
    monkeypatch.setattr(runner.random, "uniform", lambda low, high: low)
    assert [runner._delay(config, a, None) for a in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    assert runner._delay(config, 1, 3.5) == 3.5 and runner._delay(config, 1, 60.0) == 5.0


def test_hf_judge_uses_the_chat_template_when_there_is_one(tmp_path, tiny_causal_lm):
    from retriever.mine.judges.hf import HFBackend

    config = JudgeConfig(kind="hf", model=str(tiny_causal_lm), max_attempts=1, max_tokens=3)
    backend = HFBackend(config)
    plain = backend._prompt_ids([{"role": "user", "content": "protein"}])
    backend._tokenizer.chat_template = (
        "{% for m in messages %}<{{ m.role }}> {{ m.content }} {% endfor %}answer"
    )
    templated = backend._prompt_ids([{"role": "user", "content": "protein"}])
    assert templated.tolist() != plain.tolist()  # the template, not the plain join, built the prompt
    completion = backend._generate([{"role": "user", "content": "protein"}], attempt=1)
    assert completion.prompt_tokens == templated.shape[1] and 0 < completion.completion_tokens <= 3
