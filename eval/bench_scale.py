"""Scale benchmark (issue #13): wall time, CPU time and peak memory (RSS) of every stage against corpus size.

Corpora: the seeded synthetic BEIR folders of ``eval/make_synthetic_corpus.py`` (``--train-queries`` train
and ``--test-queries`` test queries each), generated once under ``eval/output/scale/`` (not committed).
Sizes: ``--sizes`` passages (default 10^4 and 10^5); ``--with-1e6`` adds 10^6.

Each stage runs in its own process (this script with ``--child``), so its peak RSS is its own: the parent
reads it from ``os.wait4`` (``ru_maxrss`` of the process and of the children it waited for, which for
``serve`` is the server). Every process but ``generate``'s loads the corpus first (``load`` shows the floor
of the first read, ``load-stored`` that of every later one: the corpus without torch); the dense stages,
``mine``, ``index`` and ``serve`` also import torch and the model. Every stage runs with ``--threads`` threads (torch, FAISS's OpenMP, the tokenizers; default 1,
for a machine whose other core is busy). Stages, in order, with the steps each times:

- ``generate``: the synthetic corpus (only when its folder is missing or was made with other parameters);
- ``load``: ``retriever.data.load_dataset`` of the corpus, queries and test qrels, parsing the corpus file and
  streaming it into the corpus store (its store entry is removed first);
- ``load-stored``: the same read from the store (the corpus memory-mapped): the floor of every later stage;
- ``bm25``: index the corpus (bm25s, the project's defaults), search the test queries at depth 100;
- ``encode``: the corpus through the on-disk embedding cache (emptied first, so every vector is computed)
  with a tiny bi-encoder built in the run (WordPiece vocabulary of 4,000 trained on the first 5,000
  passages, 2-layer BERT of hidden size 64 with random weights, mean pooling, 128 tokens; built once, by the
  first stage that needs it, and used for every size): ~1.4 ms of CPU a passage on one thread, so 10^6
  passages take ~25 CPU minutes, while the tokenisation, batching, cache and FAISS work is the real one. Its
  vectors carry no meaning: no quality figure is measured here;
- ``faiss-flat``, ``faiss-hnsw``, ``faiss-ivfpq``: build the index (the project's default parameters) over
  the cached vectors, search the encoded test queries at depth 100;
- ``mine``: ``retriever mine`` on ``--mine-queries`` train queries: BM25 candidates at depth 100, the tiny
  bi-encoder as teacher (cosine over the cached vectors), select (strategy bm25, 7 negatives), with its own
  phase timings; output emptied first, so nothing is resumed;
- ``index``: ``retriever index`` (dense flat + BM25; vectors from the embedding cache, so no encoding);
- ``serve``: ``retriever serve`` on that index: start until ``/health`` answers, then ``--serve-queries``
  single-query ``POST /search`` requests (k=10) one after another.

Writes ``eval/output/scale.json`` (every measurement; a run replaces the rows of the sizes and stages it ran
and keeps the others), ``eval/output/scale.md`` (the table) and ``eval/output/scale.png`` (wall and CPU
seconds per step, peak RSS per stage, against corpus size, log-log). Logs of every stage:
``eval/output/scale/logs/``.

Usage: ``python eval/bench_scale.py [--sizes 10000 100000] [--with-1e6] [--stages ...] [--mine-queries N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "eval" / "output"
WORK = OUTPUT / "scale"
STAGES = (
    "generate",
    "load",
    "load-stored",
    "bm25",
    "encode",
    "faiss-flat",
    "faiss-hnsw",
    "faiss-ivfpq",
    "mine",
    "index",
    "serve",
)
DEPTH = 100
MAX_TOKENS = 128
MODEL_VOCABULARY = 4000
MODEL_TRAIN_PASSAGES = 5000


# ---- what the stages share -----------------------------------------------------------------------


def corpus_dir(size: int) -> Path:
    return WORK / f"synthetic-{size}"


def generator_parameters(size: int, args: argparse.Namespace) -> dict:
    return {
        "passages": size,
        "train_queries": args.train_queries,
        "test_queries": args.test_queries,
        "seed": 0,
    }


def encoder_config():
    from retriever.retrieval.config import EncoderConfig

    return EncoderConfig(batch_size=128, max_seq_length=MAX_TOKENS, device="cpu")


def test_data(size: int):
    from retriever.data import load_dataset

    return load_dataset(str(corpus_dir(size)), "test")


def tiny_model(size: int) -> Path:
    """The benchmark's bi-encoder in ``eval/output/scale/model``; when absent, built (seeded) with a vocabulary
    trained on the first passages of the corpus of ``size``."""
    out = WORK / "model"
    if (out / "modules.json").is_file():
        return out
    texts = test_data(size).corpus.texts[:MODEL_TRAIN_PASSAGES]
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(0)
    wordpiece = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wordpiece.normalizer = normalizers.BertNormalizer(lowercase=True)
    wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    wordpiece.train_from_iterator(
        texts, trainers.WordPieceTrainer(vocab_size=MODEL_VOCABULARY, special_tokens=special)
    )
    marks = [(mark, wordpiece.token_to_id(mark)) for mark in ("[CLS]", "[SEP]")]
    wordpiece.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=marks)
    backbone = WORK / "model-backbone"
    BertTokenizerFast(tokenizer_object=wordpiece, model_max_length=MAX_TOKENS).save_pretrained(str(backbone))
    sizes = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128}
    bert = BertConfig(vocab_size=wordpiece.get_vocab_size(), max_position_embeddings=MAX_TOKENS, **sizes)
    BertModel(bert).save_pretrained(str(backbone))
    transformer = Transformer(str(backbone), max_seq_length=MAX_TOKENS)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu").save(str(out))
    return out


def encoder(size: int):
    from retriever.retrieval.encoder import Encoder

    return Encoder(str(tiny_model(size)), encoder_config(), progress=False)


def timed(steps: dict, name: str, function, items: int | None = None, unit: str | None = None):
    """Run ``function()``, record its wall and CPU seconds (and ``items`` per second) under ``steps[name]``;
    its result."""
    started, cpu = time.perf_counter(), time.process_time()
    result = function()
    steps[name] = step(time.perf_counter() - started, time.process_time() - cpu, items, unit)
    return result


def step(seconds: float, cpu_s: float, items: int | None = None, unit: str | None = None) -> dict:
    """A step's record: wall seconds, CPU seconds of the process (all its threads), and with ``items`` the
    rate per wall second (none for a step too short to time)."""
    record: dict = {"seconds": round(seconds, 3), "cpu_s": round(cpu_s, 3)}
    if items:
        record.update(items=items, unit=unit)
        if seconds > 0:
            record["per_s"] = round(items / seconds, 1)
    return record


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---- the stages (each in its own process) ----------------------------------------------------------


def stage_generate(size: int, args: argparse.Namespace, steps: dict) -> None:
    sys.path.insert(0, str(ROOT / "eval"))
    from make_synthetic_corpus import make_corpus

    parameters = generator_parameters(size, args)
    timed(steps, "generate", lambda: make_corpus(corpus_dir(size), **parameters), size, "passages")


def stage_load(size: int, args: argparse.Namespace, steps: dict) -> None:
    """The first read: the corpus store's entry for this corpus is removed, so the file is parsed and
    streamed into the store."""
    from retriever.data.corpus_store import store_path

    store_path(corpus_dir(size) / "corpus.jsonl").unlink(missing_ok=True)
    timed(steps, "load", lambda: test_data(size), size, "passages")


def stage_load_stored(size: int, args: argparse.Namespace, steps: dict) -> None:
    """Every later read (each other stage's floor): the corpus memory-mapped from the store."""
    timed(steps, "load", lambda: test_data(size), size, "passages")


def stage_bm25(size: int, args: argparse.Namespace, steps: dict) -> None:
    from retriever.retrieval.bm25 import BM25Index

    data = test_data(size)
    queries = data.judged_queries()
    index = timed(steps, "index", lambda: BM25Index.build(data.corpus), size, "passages")
    timed(steps, "search", lambda: index.search(queries, DEPTH), len(queries), "queries")


def stage_encode(size: int, args: argparse.Namespace, steps: dict) -> None:
    from retriever.retrieval.embedding_cache import EmbeddingCache

    data = test_data(size)
    model = timed(steps, "load or build model", lambda: encoder(size))
    cache = EmbeddingCache()
    shutil.rmtree(cache.directory(model, data.corpus), ignore_errors=True)
    timed(steps, "encode", lambda: cache.corpus_embeddings(model, data.corpus), size, "passages")


def stage_faiss(kind: str):
    def run(size: int, args: argparse.Namespace, steps: dict) -> None:
        from retriever.retrieval.config import IndexConfig
        from retriever.retrieval.dense_index import DenseIndex
        from retriever.retrieval.embedding_cache import EmbeddingCache

        data = test_data(size)
        model = encoder(size)
        vectors = EmbeddingCache().corpus_embeddings(model, data.corpus)
        queries = model.encode_queries(list(data.judged_queries().values()))
        config = IndexConfig(type=kind, use_gpu=False)
        index = timed(
            steps, "build", lambda: DenseIndex.build(vectors, list(data.corpus.ids), config), size, "passages"
        )
        timed(steps, "search", lambda: index.search(queries, DEPTH), len(queries), "queries")

    return run


def stage_mine(size: int, args: argparse.Namespace, steps: dict) -> None:
    from retriever.mine.config import MineConfig
    from retriever.mine.pipeline import mine

    out = WORK / f"mine-{size}"
    shutil.rmtree(out, ignore_errors=True)
    config = MineConfig(
        data=str(corpus_dir(size)),
        split="train",
        max_queries=args.mine_queries,
        candidates={
            "sources": ["bm25"],
            "depth": DEPTH,
            "bi_encoder": str(tiny_model(size)),
            "encoder": encoder_config(),
        },
        strategy="bm25",
    )
    ends: dict[str, float] = {}  # CPU clock at the end of each phase, from mine's "mine: PHASE done in" lines

    def log(message: str) -> None:
        if message.startswith("mine: ") and " done in " in message:
            ends[message.split()[1]] = time.process_time()

    started, cpu = time.perf_counter(), time.process_time()
    manifest = mine(config, out, log)
    queries = manifest["dataset"]["queries"]
    previous = cpu
    for phase, seconds in manifest["timings_s"].items():
        if phase != "judge":  # no LLM judge in this benchmark
            steps[phase] = step(seconds, ends[phase] - previous, queries, "queries")
        previous = ends[phase]
    steps["teacher"]["pairs"] = manifest["teacher"]["pairs"]
    steps["total"] = step(time.perf_counter() - started, time.process_time() - cpu, queries, "queries")


def stage_index(size: int, args: argparse.Namespace, steps: dict) -> None:
    from retriever.index.config import IndexBuildConfig
    from retriever.index.directory import build_index

    out = WORK / f"index-{size}"
    shutil.rmtree(out, ignore_errors=True)
    config = IndexBuildConfig(
        model=str(tiny_model(size)), data=str(corpus_dir(size)), output=out, encoder=encoder_config(), bm25={}
    )
    timed(steps, "build", lambda: build_index(config), size, "passages")


def stage_serve(size: int, args: argparse.Namespace, steps: dict) -> None:
    import httpx

    queries = list(test_data(size).judged_queries().values())[: args.serve_queries]
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "retriever.cli",
        "serve",
        str(WORK / f"index-{size}"),
        "--port",
        str(port),
    ]
    server = subprocess.Popen([*command, "--log-level", "warning"])
    url = f"http://127.0.0.1:{port}"

    def healthy() -> None:
        while server.poll() is None:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise SystemExit(f"retriever serve exited with code {server.returncode}")

    def ask() -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            for query in queries:
                client.post("/search", json={"query": query, "k": 10}).raise_for_status()

    try:
        timed(steps, "start until healthy", healthy)
        timed(steps, "query", ask, len(queries), "queries")
    finally:
        server.terminate()
        _, _, usage = os.wait4(server.pid, 0)
    steps["start until healthy"]["server_peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)


RUNNERS = {
    "generate": stage_generate,
    "load": stage_load,
    "load-stored": stage_load_stored,
    "bm25": stage_bm25,
    "encode": stage_encode,
    "faiss-flat": stage_faiss("flat"),
    "faiss-hnsw": stage_faiss("hnsw"),
    "faiss-ivfpq": stage_faiss("ivfpq"),
    "mine": stage_mine,
    "index": stage_index,
    "serve": stage_serve,
}


# ---- the parent: one process per stage, the records, the table and the figure -----------------------


def generated(size: int, args: argparse.Namespace) -> bool:
    record = corpus_dir(size) / "synthetic.json"
    if not record.is_file():
        return False
    made = json.loads(record.read_text())
    return all(made.get(key) == value for key, value in generator_parameters(size, args).items())


def run_stage(stage: str, size: int, args: argparse.Namespace, argv: list[str]) -> dict:
    """Run one stage in a child process; its record with wall time and peak RSS (from ``os.wait4``)."""
    logs = WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    result = logs / f"{size}-{stage}.json"
    result.unlink(missing_ok=True)
    threads = str(args.threads)
    env = {**os.environ, "RETRIEVER_CACHE_HOME": str(WORK / "cache"), "HF_HUB_OFFLINE": "1"}
    env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, RAYON_NUM_THREADS=threads)
    command = [sys.executable, __file__, *argv, "--child", stage, str(size), str(result)]
    started = time.perf_counter()
    with open(logs / f"{size}-{stage}.log", "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
    record = {
        "size": size,
        "stage": stage,
        "wall_s": round(time.perf_counter() - started, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "returncode": os.waitstatus_to_exitcode(status),
        "steps": json.loads(result.read_text()) if result.is_file() else {},
        "parameters": {
            **generator_parameters(size, args),
            "mine_queries": args.mine_queries,
            "serve_queries": args.serve_queries,
            "threads": args.threads,
        },
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average": round(os.getloadavg()[0], 2),
    }
    state = "ok" if record["returncode"] == 0 else f"FAILED (exit {record['returncode']}; see {log.name})"
    print(
        f"{size:>9,} {stage:<12} {record['wall_s']:>8.1f} s wall {record['cpu_s']:>8.1f} s CPU "
        f"{record['peak_rss_mb']:>8.0f} MB  {state}",
        flush=True,
    )
    return record


def merge(records: list[dict]) -> list[dict]:
    """The stored records with the rows of ``records`` (same size and stage) replaced."""
    path = OUTPUT / "scale.json"
    stored = json.loads(path.read_text())["records"] if path.is_file() else []
    fresh = {(r["size"], r["stage"]) for r in records}
    kept = [r for r in stored if (r["size"], r["stage"]) not in fresh] + records
    return sorted(kept, key=lambda r: (r["size"], STAGES.index(r["stage"])))


def table(records: list[dict]) -> str:
    """The markdown table: one row per (stage, step); per size the step's wall seconds (rate), its CPU seconds
    and, on a stage's first row, the stage's peak RSS and the CPU seconds of its whole process."""
    sizes = sorted({r["size"] for r in records})
    by_key = {(r["size"], r["stage"]): r for r in records}
    labels = ("wall s", "CPU s", "peak RSS MB (process CPU s)")
    header = ["stage", "step"] + [f"{label}, {size:,}" for size in sizes for label in labels]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for stage in STAGES:
        names = list(dict.fromkeys(n for s in sizes for n in by_key.get((s, stage), {}).get("steps", {})))
        for i, name in enumerate(names):
            cells = ["" if i else stage, name]
            for size in sizes:
                record = by_key.get((size, stage))
                step = record["steps"].get(name) if record else None
                if step is None:
                    cells += ["not run", "", ""]
                    continue
                rate = f" ({step['per_s']:,.0f} {step['unit']}/s)" if "per_s" in step else ""
                failed = "" if record["returncode"] == 0 else " FAILED"
                process = f"{record['peak_rss_mb']:,.0f} ({record['cpu_s']:,.0f})"
                cells += [
                    f"{step['seconds']:,.1f}{rate}{failed}",
                    f"{step['cpu_s']:,.1f}",
                    "" if i else process,
                ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def tree_mb(path: Path) -> float | None:
    """Bytes under ``path`` (a file or a folder) in MB; None when absent."""
    if not path.exists():
        return None
    files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
    return sum(f.stat().st_size for f in files) / 2**20


def footprint_table(records: list[dict]) -> str:
    """Each stage's peak RSS against the data it holds, per size: the raw text (``corpus.jsonl``), the vectors
    (the flat FAISS file of the index directory: the vectors, uncompressed) and the BM25 index (its saved
    folder), and their sum; the issue's bound is a peak within 2x of that sum."""
    sizes = sorted({r["size"] for r in records})
    lines = [
        "| passages | raw text MB | vectors MB | BM25 index MB | sum MB | peak RSS / sum, by stage |",
        "|---|---|---|---|---|---|",
    ]
    for size in sizes:
        parts = [
            tree_mb(corpus_dir(size) / "corpus.jsonl"),
            tree_mb(WORK / f"index-{size}" / "dense" / "index.faiss"),
            tree_mb(WORK / f"index-{size}" / "bm25"),
        ]
        if None in parts:
            lines.append(
                f"| {size:,} | " + " | ".join("" if x is None else f"{x:,.0f}" for x in parts) + " | | |"
            )
            continue
        total = sum(parts)
        ratios = ", ".join(
            f"{r['stage']} {r['peak_rss_mb'] / total:.1f}x"
            for r in records
            if r["size"] == size and r["stage"] != "generate" and r["returncode"] == 0
        )
        lines.append(
            f"| {size:,} | " + " | ".join(f"{x:,.0f}" for x in parts) + f" | {total:,.0f} | {ratios} |"
        )
    return "\n".join(lines)


def report(records: list[dict]) -> str:
    notes = []
    for size in sorted({r["size"] for r in records}):
        ran = {r["stage"]: r for r in records if r["size"] == size}
        p = next(iter(ran.values()))["parameters"]
        note = f"- {size:,} passages, {p['train_queries']:,} train / {p['test_queries']:,} test queries"
        if "total" in ran.get("mine", {}).get("steps", {}):
            note += f"; mine on {ran['mine']['steps']['total']['items']:,} train queries"
        threads = sorted({r["parameters"]["threads"] for r in ran.values()})
        notes.append(
            f"{note}; {'/'.join(map(str, threads))} thread(s) per stage; stages run: {', '.join(ran)}"
        )
    loads = sorted({r["load_average"] for r in records})
    return "\n".join(
        [
            "# Scale benchmark (synthetic BEIR corpora)",
            "",
            "`python eval/bench_scale.py` (see its docstring). Per step: wall seconds (rate per wall second) and",
            "CPU seconds of the stage's process; per stage: the peak RSS of its process (imports and the loaded",
            "corpus included; `load` is the first read's floor, `load-stored` every later one's) and the CPU",
            "seconds of the whole process (children included). A run replaces only the stages it ran: rows of",
            "other stages may come from older code (`measured` in scale.json).",
            "Depth 100 for BM25, FAISS and mining; the tiny random bi-encoder (hidden 64, 128 tokens) for every",
            f"dense step. 2-core CPU shared with other jobs (load average {loads[0]}-{loads[-1]} at the stages'",
            "ends), niced: where wall is far above CPU, the stage waited for a core, and CPU is the figure to read.",
            "",
            *notes,
            "",
            table(records),
            "",
            "Peak memory against the data (sizes on disk; `generate` left out, it holds no index):",
            "",
            footprint_table(records),
            "",
            "![time and memory against corpus size](scale.png)",
            "",
        ]
    )


def figure(records: list[dict], path: Path) -> None:
    """Wall and CPU seconds per step and peak RSS per stage against corpus size, log-log, for the stages that
    succeeded (``serve`` has no CPU line: its work is in the server process)."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    colours, markers = colormaps["tab20"].colors, "osD^v<>p*h"
    good = [r for r in records if r["returncode"] == 0 and r["stage"] != "generate"]
    wall: dict[str, list[tuple[int, float]]] = {}
    cpu: dict[str, list[tuple[int, float]]] = {}
    rss: dict[str, list[tuple[int, float]]] = {}
    for record in good:
        rss.setdefault(record["stage"], []).append((record["size"], record["peak_rss_mb"]))
        for name, step in record["steps"].items():
            if name == "load or build model":
                continue
            label = f"{record['stage']}: {name}"
            wall.setdefault(label, []).append((record["size"], step["seconds"]))
            if record["stage"] != "serve":
                cpu.setdefault(label, []).append((record["size"], step["cpu_s"]))
    fig = Figure(figsize=(18, 6), dpi=100)
    FigureCanvasAgg(fig)
    panels = zip(
        fig.subplots(1, 3),
        (wall, cpu, rss),
        ("wall seconds per step", "CPU seconds per step", "peak RSS (MB) per stage process"),
        strict=True,
    )
    for axes, lines, title in panels:
        for i, (name, points) in enumerate(lines.items()):
            xs, ys = zip(*sorted(points), strict=True)
            axes.plot(xs, ys, marker=markers[i % len(markers)], color=colours[i % len(colours)], label=name)
        axes.set(xscale="log", yscale="log", xlabel="passages", title=title)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path)


def child(stage: str, size: int, result: Path, args: argparse.Namespace) -> int:
    steps: dict = {}
    RUNNERS[stage](size, args, steps)
    result.write_text(json.dumps(steps))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="passages per corpus")
    parser.add_argument(
        "--with-1e6", action="store_true", help="also run 10^6 passages (~1 h, ~8 GB; estimated)"
    )
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--train-queries", type=int, default=10_000)
    parser.add_argument("--test-queries", type=int, default=1_000)
    parser.add_argument("--mine-queries", type=int, default=None, help="train queries mined (default: all)")
    parser.add_argument("--serve-queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="torch, FAISS and tokenizer threads per stage")
    parser.add_argument("--child", nargs=3, metavar=("STAGE", "SIZE", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        stage, size, result = args.child
        return child(stage, int(size), Path(result), args)
    argv = sys.argv[1:]
    sizes = sorted(set(args.sizes) | ({1_000_000} if args.with_1e6 else set()))
    missing = [size for size in sizes if "generate" not in args.stages and not generated(size, args)]
    if min(sizes) < 1:
        print("error: --sizes must be at least 1", file=sys.stderr)
        return 2
    if missing:
        print(
            f"error: no synthetic corpus of {missing} passages yet: add the generate stage", file=sys.stderr
        )
        return 2
    records: list[dict] = []
    merged = merge(records)
    for size in sizes:
        for stage in args.stages:
            if stage == "generate" and generated(size, args):
                continue
            record = run_stage(stage, size, args, argv)
            records.append(record)
            merged = merge([record])
            (OUTPUT / "scale.json").write_text(json.dumps({"records": merged}, indent=2) + "\n")
            if stage == "generate" and record["returncode"] != 0:
                break
    (OUTPUT / "scale.md").write_text(report(merged))
    figure(merged, OUTPUT / "scale.png")
    print((OUTPUT / "scale.md").read_text())
    return 1 if any(r["returncode"] != 0 for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
