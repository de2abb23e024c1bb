"""The training loop: a lean accelerate loop over the seeded batch plan, with checkpoints and resume.

Why not ``SentenceTransformerTrainer``: the batch plan (no duplicate query or passage per batch, each process
a slice of the same global batch, Rand1LH draws per epoch) is fixed up front, and an explicit loop makes the
resume contract exact: a resumed run loads the weights, optimizer, scheduler and scaler of the last
checkpoint, skips the completed steps of the plan, and reseeds dropout per step from (seed, step, rank),
so its loss curve is the one an uninterrupted run would have logged. ``accelerate`` gives fp16/bf16
autocast and DDP (``torchrun`` / ``accelerate launch``); the losses gather passages across processes.

Outputs in ``config.output``: ``checkpoints/checkpoint-<step>/`` (resumable), ``train_log.jsonl`` (one record
per step: step, epoch, loss, lr, examples_per_s, elapsed_s; dev records add ``dev``), ``train_config.json``,
and the final sentence-transformers model with its model card (``README.md``: loss, hyperparameters, log).
With ``base_weight`` w > 0 the final model is then ``(1 - w) trained + w start`` (WiSE-FT), the trained one
kept in ``before-averaging/``, and ``averaged.json`` says so.
With the ``plots`` extra, ``training_curves.png`` (loss and dev metrics by step, from the log) is written next
to the model and linked from the card.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retriever.data.training_file import TrainingExample, read_training_file
from retriever.errors import InputError, RetrieverError
from retriever.files import atomic_write_json
from retriever.outputs import require_output_dir
from retriever.train.batching import BatchPlan, filter_sources, split_dev
from retriever.train.checkpoints import latest_checkpoint, load_state, save_checkpoint
from retriever.train.config import TrainConfig
from retriever.train.dropout import set_dropout
from retriever.train.losses.registry import CACHED_PREFIX, loss_class
from retriever.train.precision import resolve_attention, resolve_precision, use_attention

LOG_FILE = "train_log.jsonl"
CONFIG_FILE = "train_config.json"
DONE_FILE = "training_complete.json"
DATA_FILE = "training_data.json"
FIGURE_FILE = "training_curves.png"
AVERAGED_FILE = "averaged.json"
BEFORE_AVERAGING = "before-averaging"

StepCallback = Callable[[dict[str, Any]], None]


@dataclass
class PreparedData:
    """Everything about the data that is known before a model is loaded (all input errors surface here)."""

    plan: BatchPlan
    dev: list[TrainingExample]
    pool: list[TrainingExample]
    dropped: int
    epoch_steps: list[int]
    steps: int


def loss_name(config: TrainConfig) -> str:
    """The registry name of the configured objective (``cached_<loss>`` when ``cached``)."""
    return CACHED_PREFIX + config.loss if config.cached else config.loss


def prepare_data(config: TrainConfig, world_size: int = 1) -> PreparedData:
    """Read, validate, filter and split the training file and plan every epoch; raises InputError early."""
    loss = loss_class(loss_name(config))  # unknown loss -> InputError before anything is loaded
    examples = read_training_file(config.data)
    if config.distill_weight > 0 and not any(
        p.teacher_score is not None for e in examples for p in (*e.positives, *e.negatives)
    ):
        raise InputError(
            "distill_weight > 0 but no passage has a teacher_score to distil from",
            path=config.data,
            field="teacher_score",
        )
    known = {e.query_id: [p.id for p in e.positives] for e in examples}
    kept, dropped = filter_sources(examples, config.positive_sources)
    train, dev = split_dev(kept, config.dev.dev_fraction, config.seed)
    plan = BatchPlan(
        train,
        batch_size=config.batch_size,
        seed=config.seed,
        positive_mode=loss.positive_mode,
        max_positives=config.max_positives,
        positive_cap=config.positive_cap,
        hard_negatives=config.hard_negatives,
        group_size=config.group_size,
        known_positives=known,
    )
    epoch_steps = [len(plan.global_batches(epoch, world_size)) for epoch in range(config.epochs)]
    steps = min(sum(epoch_steps), config.max_steps or sum(epoch_steps))
    if steps == 0:
        raise InputError(f"{len(train)} training queries make no batch", path=config.data)
    return PreparedData(plan, dev, examples, dropped, epoch_steps, steps)


def train(config: TrainConfig, *, resume: bool = False, on_step: StepCallback | None = None) -> Path:
    """Train every stage of ``config`` (or the single one) and return the final model directory.

    Stage i writes ``output/stage-<i>`` (the last stage writes ``output`` itself) and starts from the previous
    stage's final model. With ``resume``, completed stages are skipped and the current one continues from its
    newest checkpoint. ``on_step`` receives each step's log record (progress reporting, tests).
    """
    if not config.stages:
        stage_configs = [config]
    else:
        stage_configs = []
        for index in range(len(config.stages)):
            last = index == len(config.stages) - 1
            output = config.output if last else config.output / f"stage-{index + 1}"
            stage_configs.append(config.for_stage(index).model_copy(update={"output": output}))
    require_output_dir(config.output)
    for stage in stage_configs:  # every stage's data is validated before any model is loaded
        prepare_data(stage)
    model_source = config.model
    for stage in stage_configs:
        stage = stage.model_copy(update={"model": model_source})
        model_source = str(_train_stage(stage, resume=resume, on_step=on_step))
    if config.base_weight:
        _average_with_start(config, Path(model_source))
    return Path(model_source)


def _average_with_start(config: TrainConfig, final: Path) -> None:
    """Replace the final model by ``(1 - w) trained + w start`` (:mod:`retriever.train.averaging`), once.

    The trained weights are kept in ``OUTPUT/before-averaging/`` (a model directory) and averaged from there,
    and ``averaged.json`` is written last, so a run cut while averaging redoes it from the trained weights
    and a rerun of a finished run never averages twice. Only the main process writes."""
    from accelerate import PartialState

    from retriever.train.averaging import average_with_base

    state = PartialState()
    marker = final / AVERAGED_FILE
    if state.is_main_process and not marker.is_file():
        trained = final / BEFORE_AVERAGING
        if not (trained / "modules.json").is_file():
            tmp = final / f".{BEFORE_AVERAGING}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(final, tmp, ignore=shutil.ignore_patterns("checkpoints", ".*", BEFORE_AVERAGING))
            tmp.rename(trained)
        average_with_base(trained, config.model, config.base_weight, final)
        atomic_write_json(
            marker, {"start": config.model, "base_weight": config.base_weight, "trained": BEFORE_AVERAGING}
        )
    state.wait_for_everyone()


# Settings a resumed run may change: where and how often it saves, what it logs, and the attention kernel (the
# same computation; a run started before ``attention`` existed recorded none).
RESUME_MAY_CHANGE = frozenset({"output", "save_steps", "save_total_limit", "dev", "attention"})


def _data_digest(path: Path) -> str:
    """sha256 of the training file's bytes."""
    with Path(path).open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _require_same_run(output: Path, config: TrainConfig, digest: str) -> None:
    """Resuming continues the run in ``output`` only if it was started with these settings (the training file by
    resolved path) and on the same content of that file (``digest``, its sha256 now, against the one recorded in
    ``DATA_FILE``; a run recorded before that file existed is checked on its settings only): a finished or
    half-trained run on other data, on a training file rewritten since (a second ``retriever mine`` into the same
    place) or with another objective is never passed off as this one."""
    saved_file = output / CONFIG_FILE
    if not saved_file.is_file():
        return
    saved = TrainConfig.model_validate_json(saved_file.read_text(encoding="utf-8"))
    before, now = (
        {**c.model_dump(exclude=RESUME_MAY_CHANGE), "data": str(Path(c.data).resolve())}
        for c in (saved, config)
    )
    changed = sorted(name for name in now if before.get(name) != now[name])
    if changed:
        raise InputError(
            f"output holds a training run with other settings ({', '.join(changed)}: {before[changed[0]]!r} there, "
            f"{now[changed[0]]!r} now); choose another --output",
            path=saved_file,
        )
    data_record = output / DATA_FILE
    if data_record.is_file() and json.loads(data_record.read_text(encoding="utf-8"))["sha256"] != digest:
        raise InputError(
            "output holds a training run on an earlier version of this training file (its content changed "
            "since); choose another --output",
            path=config.data,
        )


def _train_stage(config: TrainConfig, *, resume: bool, on_step: StepCallback | None) -> Path:
    """One stage: the accelerate loop described in the module docstring."""
    import torch
    from accelerate import Accelerator, DistributedDataParallelKwargs
    from accelerate.state import AcceleratorState
    from transformers import get_linear_schedule_with_warmup

    output = Path(config.output)
    precision, attention = resolve_kernels(config)
    # the card and config record what ran (attention stays auto where the model keeps its own kernel)
    config = config.model_copy(update={"precision": precision, "attention": attention or config.attention})
    digest = _data_digest(config.data)
    if resume:
        _require_same_run(output, config, digest)
    if (output / DONE_FILE).is_file():
        if resume:
            return output
        raise InputError("output already holds a finished training run; choose another --output", path=output)
    checkpoint = latest_checkpoint(output)
    if not resume and (checkpoint is not None or (output / LOG_FILE).exists()):
        raise InputError(
            "output already holds a training run; pass --resume to continue it or choose another --output",
            path=output,
        )

    if precision == "fp16" and not torch.cuda.is_available():
        raise InputError("fp16 needs a GPU; use bf16 or fp32 on CPU", field="precision")
    # The accelerator settings are a process-wide singleton: reset them (not the distributed state) so a
    # second stage or a second call in one process may use another precision.
    AcceleratorState._reset_state(reset_partial_state=False)
    accelerator = Accelerator(
        mixed_precision=None if precision == "fp32" else precision,
        cpu=not torch.cuda.is_available(),  # lets torchrun start gloo DDP on machines without GPUs
        # BERT's pooler (unused by mean pooling) gets no gradient; DDP must not wait for it.
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )
    data = prepare_data(config, accelerator.num_processes)
    evaluator = _dev_evaluator(config, data, accelerator)
    model = load_training_model(str(checkpoint) if checkpoint else config.model, config, attention)
    loss = _build_loss(config, model)
    optimizer = torch.optim.AdamW(_parameter_groups(model, config.weight_decay), lr=config.lr)
    scheduler = get_linear_schedule_with_warmup(optimizer, round(config.warmup * data.steps), data.steps)
    loss_module, optimizer = accelerator.prepare(loss, optimizer)
    start = 0
    if checkpoint is not None:
        state = load_state(checkpoint)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if accelerator.scaler is not None and state.get("scaler"):
            accelerator.scaler.load_state_dict(state["scaler"])
        start = state["step"]
    if accelerator.is_main_process:
        output.mkdir(parents=True, exist_ok=True)
        (output / CONFIG_FILE).write_text(config.model_dump_json(indent=2) + "\n", encoding="utf-8")
        atomic_write_json(output / DATA_FILE, {"data": str(Path(config.data).resolve()), "sha256": digest})
    log = TrainingLog(output / LOG_FILE, keep_until=start, enabled=accelerator.is_main_process)

    from retriever.train.collator import GroupCollator

    collator = GroupCollator(
        model, config.query_prompt, config.document_prompt, teacher_scores=config.distill_weight > 0
    )
    state_of = _state_getter(optimizer, scheduler, accelerator)
    step, started = start, time.perf_counter()
    progress = _progress(data.steps, start, accelerator.is_main_process)
    loss_module.train()
    for epoch in range(config.epochs):
        batches = data.plan.local_batches(epoch, accelerator.process_index, accelerator.num_processes)
        epoch_start = sum(data.epoch_steps[:epoch])
        for position, groups in enumerate(batches, start=epoch_start):
            if position < start:
                continue
            if step >= data.steps:
                break
            tick = time.perf_counter()
            torch.manual_seed(_step_seed(config.seed, step, accelerator.process_index))
            features, labels = collator(groups)
            features = [{k: _to(v, accelerator.device) for k, v in f.items()} for f in features]
            with accelerator.autocast():
                value = _forward(loss_module, features, labels, step + 1, epoch)
            accelerator.backward(value)
            if config.max_grad_norm is not None:
                accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            mean_loss = accelerator.reduce(value.detach().float(), reduction="mean").item()
            record = {
                "step": step,
                "epoch": epoch + (position - epoch_start + 1) / len(batches),
                "loss": mean_loss,
                "lr": lr,
                "examples_per_s": len(groups) * accelerator.num_processes / (time.perf_counter() - tick),
                "elapsed_s": time.perf_counter() - started,
            }
            if evaluator and config.dev.eval_steps and step % config.dev.eval_steps == 0:
                record["dev"] = evaluator(model)
            log.write(record)
            progress.update(1, loss=mean_loss)
            if on_step is not None:
                on_step(record)
            if step % config.save_steps == 0 and step < data.steps:
                _save(accelerator, output, step, model, state_of, config.save_total_limit)
        epoch_end = min(epoch_start + len(batches), data.steps)
        if evaluator and config.dev.eval_steps is None and step == epoch_end and not log.has_dev(step):
            log.write({"step": step, "epoch": epoch + 1, "dev": evaluator(model)})
        if step >= data.steps:
            break
    progress.close()
    if accelerator.is_main_process:
        _save_final(model, loss, config, data, log)
    accelerator.wait_for_everyone()
    return output


class TrainingLog:
    """``train_log.jsonl``: appended per step; on resume, records after the checkpoint's step are dropped."""

    def __init__(self, path: Path, keep_until: int, enabled: bool) -> None:
        self.path = path
        self.enabled = enabled
        self.records: list[dict[str, Any]] = []
        if path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
            self.records = [r for r in map(json.loads, filter(None, lines)) if r["step"] <= keep_until]
        if enabled:
            path.write_text("".join(json.dumps(r) + "\n" for r in self.records), encoding="utf-8")

    def has_dev(self, step: int) -> bool:
        """Whether a dev evaluation is logged at ``step`` (a resumed run does not repeat it)."""
        return any(r["step"] == step and "dev" in r for r in self.records)

    def write(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        if self.enabled:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")


def read_log(output: Path) -> list[dict[str, Any]]:
    """The records of ``output/train_log.jsonl``."""
    lines = (Path(output) / LOG_FILE).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def resolve_kernels(config: TrainConfig) -> tuple[str, str | None]:
    """``(precision, attention kernel)`` that ``config`` trains with on this machine (None: the model's own
    kernel); see :mod:`retriever.train.precision`."""
    import torch

    precision = resolve_precision(config.precision)
    return precision, resolve_attention(
        config.attention, precision, torch.cuda.is_available(), config.max_seq_length
    )


def load_training_model(source: str, config: TrainConfig, attention: str | None):
    """The model as it trains: its token limit, attention kernel and dropout rates set from ``config``."""
    from retriever.retrieval.models import load_bi_encoder

    model = load_bi_encoder(source, device="cpu")
    if config.max_seq_length is not None:
        model.max_seq_length = config.max_seq_length
    use_attention(model, attention)
    set_dropout(model, config.attention_dropout, config.hidden_dropout)
    return model


def _build_loss(config: TrainConfig, model):
    from retriever.train.losses.registry import build_loss

    name = loss_name(config)
    hparams = {
        "scale": config.scale,
        "similarity": config.similarity,
        "normalize_by_positives": config.normalize_by_positives,
        "gather_across_devices": config.gather_across_devices,
        "distill_weight": config.distill_weight,
        "teacher_temperature": config.teacher_temperature,
        "batch_positives": config.batch_positives,
    }
    if name.startswith(CACHED_PREFIX):
        hparams["mini_batch_size"] = config.mini_batch_size
    return build_loss(name, model, **hparams)


def _parameter_groups(model, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: weight decay on matrices, none on biases and LayerNorm weights (the BERT recipe)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]


def _step_seed(seed: int, step: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, step, rank]).generate_state(1)[0])


def _to(value: Any, device: Any) -> Any:
    return value.to(device) if hasattr(value, "to") else value


def _forward(loss_module, features, labels, step: int, epoch: int):
    """The step's loss; a NaN/inf loss stops the run with one line naming the step."""
    import torch

    from retriever.train.losses.base import NonFiniteLossError

    try:
        value = loss_module(features, labels)
    except NonFiniteLossError as exc:
        raise RetrieverError(f"step {step} (epoch {epoch + 1}): {exc}") from None
    if not torch.isfinite(value):
        raise RetrieverError(
            f"step {step} (epoch {epoch + 1}): loss is {value.item()}; lower the learning rate or use fp32"
        )
    return value


def _state_getter(optimizer, scheduler, accelerator) -> Callable[[], dict[str, Any]]:
    def state() -> dict[str, Any]:
        scaler = accelerator.scaler
        return {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
        }

    return state


def _save(accelerator, output: Path, step: int, model, state_of, keep: int) -> None:
    if accelerator.is_main_process:
        save_checkpoint(output, step, model, state_of(), keep)
    accelerator.wait_for_everyone()


def _dev_evaluator(config: TrainConfig, data: PreparedData, accelerator):
    """A function model -> {metric: value} on the dev queries (main process only), or None without dev."""
    if not data.dev or not accelerator.is_main_process:
        return None
    from retriever.train.dev_eval import DevEvaluator

    return DevEvaluator(
        config.dev,
        data.dev,
        data.pool,
        query_prompt=config.query_prompt,
        document_prompt=config.document_prompt,
    )


def _progress(total: int, initial: int, enabled: bool):
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=initial, desc="train", unit="step", disable=not enabled)

    class _Bar:
        def update(self, n: int, loss: float) -> None:
            bar.update(n)
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

        def close(self) -> None:
            bar.close()

    return _Bar()


def _save_final(model, loss, config: TrainConfig, data: PreparedData, log: TrainingLog) -> None:
    """Save the final model with a sentence-transformers model card (loss, hyperparameters, log excerpt)."""
    card = model.model_card_data
    card.set_losses([loss])
    hyperparameters = config.model_dump(mode="json", exclude={"stages"})
    card.all_hyperparameters = hyperparameters
    card.non_default_hyperparameters = config.model_dump(
        mode="json", exclude_defaults=True, exclude={"stages"}
    )
    card.training_logs = _card_logs(log.records, config.dev.metric)
    card.add_tags(["generated_from_trainer", "retriever", f"objective:{loss_name(config)}"])
    model.save(str(config.output))
    _training_figure(Path(config.output), log.records, config.dev.metric)
    done = {
        "steps": data.steps,
        "train_queries": len(data.plan),
        "dev_queries": len(data.dev),
        "queries_dropped_by_source_filter": data.dropped,
        "loss": loss_name(config),
    }
    (Path(config.output) / DONE_FILE).write_text(json.dumps(done, indent=2) + "\n", encoding="utf-8")


def _training_figure(output: Path, records: list[dict[str, Any]], metric: str) -> None:
    """``training_curves.png`` from the log, linked from the model card (skipped without the plots extra)."""
    from retriever import plots
    from retriever.files import atomic_write_text

    figure = plots.training_figure(records, output / FIGURE_FILE, metric)
    card = output / "README.md"
    if figure is not None and card.is_file():
        text = card.read_text(encoding="utf-8").rstrip("\n")
        section = f"## Training curves\n\n![training loss and dev metrics by step]({FIGURE_FILE})\n"
        atomic_write_text(card, f"{text}\n\n{section}")


def _card_logs(records: list[dict[str, Any]], metric: str, rows: int = 20) -> list[dict[str, Any]]:
    """About ``rows`` evenly spaced log rows plus every dev row, in the card's Epoch/Step/... shape."""
    every = max(1, len([r for r in records if "loss" in r]) // rows)
    table = []
    for record in records:
        dev = record.get("dev")
        if "loss" in record and record["step"] % every and not dev:
            continue
        row = {"Epoch": round(record["epoch"], 4), "Step": record["step"]}
        if "loss" in record:
            row["Training Loss"] = round(record["loss"], 4)
        if dev:
            row[f"dev_{metric}"] = round(dev.get(metric, float("nan")), 4)
        table.append(row)
    return table
