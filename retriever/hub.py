"""Publish a sentence-transformers checkpoint: a model card with eval results, then a Hugging Face Hub upload.

Contract:

- :func:`stage_folder` copies the checkpoint's model files (not optimizer/scheduler/RNG state nor nested
  ``checkpoint-*`` folders) into a folder and writes ``README.md``: YAML metadata for the Hub
  (``library_name: sentence-transformers``, ``pipeline_tag: sentence-similarity``, tags, base_model,
  datasets, license and a ``model-index`` built from ``report.json``) and a body with usage, the evaluation
  table and the training loss and hyperparameters when the checkpoint folder holds the files ``retriever
  train`` writes there (:data:`~retriever.train.trainer.CONFIG_FILE`, :data:`~retriever.train.trainer.LOG_FILE`).
  That folder is exactly what :func:`upload` sends, so ``retriever push --dry-run --output DIR`` shows it.
- The report is a ``report.json`` written by ``retriever eval`` (:mod:`retriever.eval.report`): its
  ``schema`` must be :data:`~retriever.eval.report.SCHEMA`, any other (or none) is a one-line error. Systems
  whose retriever is BM25 do not describe the model and are left out. Metric names map to Hub/MTEB ids:
  ``nDCG@10`` -> ``ndcg_at_10``, ``MAP`` -> ``map``.
- The token comes from ``HF_TOKEN`` or the Hugging Face login (``huggingface_hub.get_token``); it is passed
  to the API and never printed, logged or written.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from retriever.errors import InputError, RetrieverError, first_line
from retriever.eval.report import SCHEMA
from retriever.train.trainer import CONFIG_FILE, LOG_FILE

# Files a Trainer checkpoint holds for resuming; they are not part of the published model.
TRAINING_STATE_PATTERNS = (
    "checkpoint-*",
    "checkpoints",
    "trainer_state.pt",
    "optimizer.pt",
    "scheduler.pt",
    "scaler.pt",
    "rng_state*.pth",
    "training_args.bin",
    "trainer_state.json",
    "runs",
    ".git",
    ".cache",
)
CARD_TAGS = ["sentence-transformers", "sentence-similarity", "feature-extraction", "dense", "retrieval"]


@dataclass
class CardInfo:
    """What the card says beyond the checkpoint itself."""

    repo_id: str
    license: str = "apache-2.0"
    base_model: str | None = None
    datasets: list[str] = field(default_factory=list)
    language: str | None = "en"


def check_checkpoint(checkpoint: str | Path) -> Path:
    """The checkpoint folder, which must be in sentence-transformers format (``modules.json``)."""
    path = Path(checkpoint)
    if not path.is_dir():
        raise InputError("checkpoint folder not found", path=path)
    if not (path / "modules.json").is_file():
        raise InputError("not a sentence-transformers checkpoint (no modules.json)", path=path)
    return path


def check_repo_id(repo_id: str) -> str:
    """``OWNER/NAME`` as the Hub accepts it."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise InputError(first_line(exc), field="repo_id") from None
    if repo_id.count("/") != 1:
        raise InputError(f"repo id {repo_id!r} must be OWNER/NAME", field="repo_id")
    return repo_id


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None


def report_systems(report_path: str | Path, checkpoint: Path | None = None) -> list[dict[str, Any]]:
    """The systems of a ``retriever eval`` report.json that describe this model, each as written there
    (``name``, ``retriever``, ``metrics``, ``encoder``, ...) plus the report's ``dataset``.

    The report's ``schema`` must be :data:`~retriever.eval.report.SCHEMA`. BM25 systems are dropped (they do
    not depend on the model); when some systems were encoded from ``checkpoint`` (their ``encoder.source`` is
    that folder), only those are kept. A malformed report is a one-line :class:`InputError` naming the field.
    """
    path = Path(report_path)
    report = _read_json(path)
    schema = report.get("schema") if isinstance(report, dict) else None
    if schema != SCHEMA:
        found = "no schema" if schema is None else f"schema {schema!r}"
        raise InputError(
            f"not a report this version reads ({found}; expected {SCHEMA!r}, as `retriever eval` writes)",
            path=path,
            field="schema",
        )
    systems = report.get("systems")
    if not isinstance(systems, list) or not all(isinstance(s, dict) for s in systems):
        raise InputError("expected a list of system objects", path=path, field="systems")
    for i, system in enumerate(systems):
        for key, kind in (("metrics", dict), ("retriever", str)):
            if not isinstance(system.get(key), kind):
                raise InputError(f"missing or not a {kind.__name__}", path=path, field=f"systems[{i}].{key}")
    dataset = report.get("dataset") or {}
    dense = [{**s, "dataset": dataset} for s in systems if s["retriever"] != "bm25"]
    if checkpoint is not None:
        mine = [s for s in dense if _same_path((s.get("encoder") or {}).get("source"), checkpoint)]
        dense = mine or dense
    return dense


def _same_path(source: Any, folder: Path) -> bool:
    return isinstance(source, str) and Path(source).exists() and Path(source).resolve() == folder.resolve()


def hub_metric_id(name: str) -> str:
    """``nDCG@10`` -> ``ndcg_at_10``, the metric ids MTEB results use on the Hub."""
    return name.lower().replace("@", "_at_")


def _dataset_id(dataset: dict[str, Any]) -> str:
    """A Hub dataset id (``mteb/scifact``) as given, or the folder name of a local dataset path."""
    name = str(dataset.get("name") or "unknown")
    return Path(name).name if Path(name).exists() or name.startswith((".", "/")) else name


def eval_results(systems: list[dict[str, Any]]) -> list[Any]:
    """One ``huggingface_hub.EvalResult`` per (system, metric)."""
    from huggingface_hub import EvalResult

    results = []
    for system in systems:
        dataset = system.get("dataset") or {}
        dataset_id = _dataset_id(dataset)
        retriever = system["retriever"]
        for metric, value in system["metrics"].items():
            if not isinstance(value, int | float):
                continue
            results.append(
                EvalResult(
                    task_type="retrieval",
                    task_name=f"Retrieval ({retriever})",
                    dataset_type=dataset_id,
                    dataset_name=dataset_id.split("/")[-1],
                    dataset_split=dataset.get("split"),
                    metric_type=hub_metric_id(metric),
                    metric_name=metric,
                    metric_value=round(float(value), 5),
                )
            )
    return results


def training_summary(checkpoint: Path) -> dict[str, Any]:
    """The training config (``config``: the trainer's :data:`~retriever.train.trainer.CONFIG_FILE`) and the
    last logged loss (``final_loss`` and ``final_step`` from its :data:`~retriever.train.trainer.LOG_FILE`),
    each when the checkpoint folder has the file."""
    summary: dict[str, Any] = {}
    config = checkpoint / CONFIG_FILE
    if config.is_file() and isinstance(data := _read_json(config), dict):
        summary["config"] = data
    log = checkpoint / LOG_FILE
    if log.is_file():
        losses = [
            record
            for line in log.read_text(encoding="utf-8").splitlines()
            if line.strip() and "loss" in (record := json.loads(line))
        ]
        if losses:
            summary["final_step"] = losses[-1].get("step")
            summary["final_loss"] = losses[-1]["loss"]
    return summary


def _markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _format_metric(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else ""


def card_body(
    info: CardInfo, systems: list[dict[str, Any]], training: dict[str, Any], intro: bool = True
) -> str:
    """The Markdown under the metadata: (with ``intro``) title and usage, then the evaluation table and the
    training loss and hyperparameters."""
    parts = []
    if intro:
        parts += [
            f"# {info.repo_id.split('/')[-1]}",
            "A dense retriever (sentence-transformers bi-encoder) trained and evaluated with `retriever`."
            + (f" Fine-tuned from `{info.base_model}`." if info.base_model else ""),
            "## Usage",
            "```python\nfrom sentence_transformers import SentenceTransformer\n\n"
            f'model = SentenceTransformer("{info.repo_id}")\n'
            'queries = model.encode(["what causes anemia?"])\n'
            'documents = model.encode(["Iron deficiency is the most common cause of anemia."])\n'
            "print(model.similarity(queries, documents))\n```",
        ]
    if systems:
        metrics = sorted({metric for system in systems for metric in system["metrics"]})
        rows = [
            [
                _dataset_id(s.get("dataset") or {}),
                (s.get("dataset") or {}).get("split", ""),
                s["retriever"],
            ]
            + [
                f"{s['metrics'][m]:.4f}" if isinstance(s["metrics"].get(m), int | float) else ""
                for m in metrics
            ]
            for s in systems
        ]
        parts += [
            "## Retrieval evaluation",
            _markdown_table(["dataset", "split", "retriever", *metrics], rows),
        ]
    config = training.get("config") or {}
    if config or "final_loss" in training:
        parts.append("## Training summary")
        if "loss" in config:
            parts.append(f"Loss: `{config['loss']}`.")
        if "final_loss" in training:
            parts.append(f"Final logged loss: {training['final_loss']:.4f} (step {training['final_step']}).")
        if config:
            rows = [[key, f"`{json.dumps(value, default=str)}`"] for key, value in sorted(config.items())]
            parts += ["Hyperparameters:", _markdown_table(["setting", "value"], rows)]
    return "\n\n".join(parts) + "\n"


def build_card(
    checkpoint: str | Path, info: CardInfo, report: str | Path | None = None
) -> Any:  # huggingface_hub.ModelCard
    """The model card for ``checkpoint``: Hub metadata + Markdown body.

    When the checkpoint already has a README.md (sentence-transformers writes one, with architecture and
    training details), its text and metadata are kept: our metadata fields are set over it, tags are merged,
    the ``model-index`` comes from the report when one is given, and our sections are appended.
    """
    from huggingface_hub import ModelCard, ModelCardData

    checkpoint = check_checkpoint(checkpoint)
    systems = report_systems(report, checkpoint) if report is not None else []
    training = training_summary(checkpoint)
    existing = (
        ModelCard.load(checkpoint / "README.md", ignore_metadata_errors=True)
        if (checkpoint / "README.md").is_file()
        else None
    )
    kept = existing.data.to_dict() if existing is not None else {}
    trained_from = (training.get("config") or {}).get("model")
    base_model = (
        info.base_model
        or (trained_from if isinstance(trained_from, str) and not Path(trained_from).exists() else None)
        or kept.get("base_model")
    )
    info = CardInfo(
        info.repo_id, info.license, base_model, info.datasets or kept.get("datasets") or [], info.language
    )
    results = eval_results(systems)
    if results:
        kept.pop("model-index", None)
    fields = {
        **kept,
        "language": info.language or kept.get("language"),
        "license": info.license,
        "library_name": "sentence-transformers",
        "pipeline_tag": "sentence-similarity",
        "tags": list(dict.fromkeys([*kept.get("tags", []), *CARD_TAGS])),
        "base_model": info.base_model,
        "datasets": info.datasets or None,
    }
    if results:
        fields.update(model_name=info.repo_id.split("/")[-1], eval_results=results)
    data = ModelCardData(**fields, ignore_metadata_errors=True)
    body = card_body(info, systems, training, intro=existing is None)
    if existing is not None:
        body = f"{existing.text.strip()}\n\n{body}"
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}")


def stage_folder(checkpoint: str | Path, output: str | Path, card: Any) -> Path:
    """Copy the checkpoint's model files into ``output`` (which must be empty or new) and write README.md."""
    checkpoint, output = check_checkpoint(checkpoint), Path(output)
    if output.resolve() == checkpoint.resolve():
        raise InputError("the output folder must differ from the checkpoint", path=output)
    if output.exists() and any(output.iterdir()):
        raise InputError("output folder is not empty", path=output)
    shutil.copytree(checkpoint, output, ignore=_ignore_training_state, dirs_exist_ok=True)
    card.save(output / "README.md")
    return output


def _ignore_training_state(directory: str, names: list[str]) -> set[str]:
    return {name for name in names if any(fnmatch(name, pattern) for pattern in TRAINING_STATE_PATTERNS)}


def upload(folder: str | Path, repo_id: str, *, private: bool = False, token: str | None = None) -> str:
    """Create ``repo_id`` (if needed) and upload ``folder``; returns the commit URL. Errors are one line."""
    import httpx
    from huggingface_hub import HfApi, get_token
    from huggingface_hub.errors import HfHubHTTPError

    token = token or get_token()
    if not token:
        raise RetrieverError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (or use --dry-run)")
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        commit = api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            repo_type="model",
            commit_message="Upload with retriever",
        )
    except (HfHubHTTPError, httpx.HTTPError, OSError) as exc:
        message = first_line(exc).replace(token, "***")
        raise RetrieverError(f"upload to {repo_id} failed: {message}") from None
    return str(commit.commit_url)
