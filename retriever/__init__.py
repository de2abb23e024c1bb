"""retriever: train, evaluate and serve dense retrievers.

Stages read files and write files (see ``docs/design.md``): ``mine`` builds multi-positive training data,
``train`` fits bi-encoders with multi-positive objectives, ``eval`` reports trec_eval-exact metrics,
``index``/``serve``/``push`` take a model to users. The Python API is the same stages, each a function over
its pydantic config (what the command line builds from its options)::

    import retriever

    report = retriever.evaluate(retriever.EvalConfig(data="scifact", models=["all-MiniLM-L6-v2"],
                                                     retrievers=["bm25", "dense", "hybrid"]))
    print(report.systems[0].metrics)
    retriever.convert(retriever.ConvertConfig(data="scifact", output="runs/train.jsonl"))
    model = retriever.train_model(retriever.TrainConfig(data="runs/train.jsonl", loss="lsepair", output="runs/model"))
    retriever.build_index(retriever.IndexBuildConfig(model=str(model), data="scifact", output="runs/index"))
    hits = retriever.load_index("runs/index").search(["vitamin d and cancer"], k=5)

``retriever.mine_data(MineConfig(...), "runs/mined")`` mines training data and ``retriever.run_judge`` measures a
judge. (``train_model`` and ``mine_data`` are :func:`retriever.train.trainer.train` and
:func:`retriever.mine.pipeline.mine`, renamed: ``retriever.train`` and ``retriever.mine`` are the packages.)
Names are imported on first use, so ``import retriever`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it (and the name there, where it differs)
_EXPORTS = {
    "load_dataset": "retriever.data.loader",
    "EvalConfig": "retriever.eval.config",
    "evaluate": "retriever.eval.runner",
    "EvalReport": "retriever.eval.runner",
    "MineConfig": "retriever.mine.config",
    "mine_data": "retriever.mine.pipeline:mine",
    "ConvertConfig": "retriever.mine.config",
    "convert": "retriever.mine.convert",
    "TrainConfig": "retriever.train.config",
    "train_model": "retriever.train.trainer:train",
    "JudgeRunConfig": "retriever.judge.config",
    "run_judge": "retriever.judge.run",
    "IndexBuildConfig": "retriever.index.config",
    "build_index": "retriever.index.directory",
    "load_index": "retriever.index.directory",
    "LoadedIndex": "retriever.index.directory",
}
__all__ = [
    "ConvertConfig",
    "EvalConfig",
    "EvalReport",
    "IndexBuildConfig",
    "JudgeRunConfig",
    "LoadedIndex",
    "MineConfig",
    "TrainConfig",
    "build_index",
    "convert",
    "evaluate",
    "load_dataset",
    "load_index",
    "mine_data",
    "run_judge",
    "train_model",
]  # = sorted(_EXPORTS), checked by tests/test_python_api.py

if TYPE_CHECKING:
    from retriever.data.loader import load_dataset
    from retriever.eval.config import EvalConfig
    from retriever.eval.runner import EvalReport, evaluate
    from retriever.index.config import IndexBuildConfig
    from retriever.index.directory import LoadedIndex, build_index, load_index
    from retriever.judge.config import JudgeRunConfig
    from retriever.judge.run import run_judge
    from retriever.mine.config import ConvertConfig, MineConfig
    from retriever.mine.convert import convert
    from retriever.mine.pipeline import mine as mine_data
    from retriever.train.config import TrainConfig
    from retriever.train.trainer import train as train_model


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'retriever' has no attribute {name!r}")
    module, _, attribute = _EXPORTS[name].partition(":")
    value = getattr(importlib.import_module(module), attribute or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
