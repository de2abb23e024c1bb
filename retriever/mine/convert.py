"""``retriever convert``: a dataset split's qrels + BM25 hard negatives -> a training file.

For each query of the split with at least one document graded ``>= min_grade``: the positives are those
documents (source ``qrels``, ``grade`` = the qrels grade, highest grade first); the negatives are BM25's top hits that are
not positives, after skipping the first ``skip_top`` of them (near-duplicates of positives are often
unjudged relevant documents), up to ``negatives`` (source ``bm25``, ``retriever_score`` = BM25 score).
Passage text is title + ``title_separator`` + text. ``<file>.manifest.json`` beside the file records config
and counts (never ``manifest.json``, which belongs to ``retriever mine``). Both orders, positives by grade and
BM25 hits by score, are :mod:`retriever.retrieval.ranking`'s: equal values by document id descending.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from retriever.data.dataset import Dataset
from retriever.data.training_file import Negative, Positive, TrainingExample, write_training_file
from retriever.errors import InputError
from retriever.mine.config import ConvertConfig
from retriever.options import CommandOptions, ConfigFile, Overrides
from retriever.outputs import require_output_file
from retriever.retrieval.ranking import ranked_items


def convert_examples(dataset: Dataset, config: ConvertConfig) -> list[TrainingExample]:
    """Training examples of ``dataset`` (its qrels split) with BM25 negatives, in query-file order."""
    from retriever.retrieval.bm25 import BM25Index

    corpus = dataset.corpus
    positives: dict[str, list[tuple[str, int]]] = {}
    for qid, judged in dataset.qrels.items():
        relevant = [
            (doc, grade)
            for doc, grade in judged.items()
            if grade >= config.min_grade and doc in corpus.position
        ]
        if relevant and qid in dataset.queries:
            positives[qid] = ranked_items(dict(relevant))
    if not positives:
        raise InputError(f"split {config.split!r} has no query with a document graded >= {config.min_grade}")
    queries = {qid: text for qid, text in dataset.queries.items() if qid in positives}
    depth = config.skip_top + config.negatives + max(len(p) for p in positives.values())
    run = BM25Index.build(corpus, config.bm25).search(queries, depth) if config.negatives else {}
    examples = []
    for qid, text in queries.items():
        relevant = {doc for doc, _ in positives[qid]}
        hits = [(doc, score) for doc, score in ranked_items(run.get(qid, {})) if doc not in relevant]
        hits = hits[config.skip_top :]
        examples.append(
            TrainingExample(
                query_id=qid,
                query=text,
                positives=[
                    Positive(
                        id=doc, text=corpus.document(doc, config.title_separator), source="qrels", grade=grade
                    )
                    for doc, grade in positives[qid]
                ],
                negatives=[
                    Negative(
                        id=doc,
                        text=corpus.document(doc, config.title_separator),
                        source="bm25",
                        retriever_score=score,
                    )
                    for doc, score in hits[: config.negatives]
                ],
            )
        )
    return examples


def convert(config: ConvertConfig) -> Path:
    """Read the dataset, build the examples, write the training file and its manifest; returns the file."""
    from retriever.data.loader import load_dataset

    require_output_file(config.output)
    require_output_file(manifest_path(config.output))
    dataset = load_dataset(config.data, config.split)
    examples = convert_examples(dataset, config)
    count = write_training_file(config.output, examples)
    manifest = {
        "config": config.model_dump(mode="json"),
        "dataset": {
            "name": dataset.name,
            "split": dataset.split,
            "corpus_fingerprint": dataset.corpus.fingerprint,
        },
        "counts": {
            "queries": count,
            "positives": sum(len(e.positives) for e in examples),
            "negatives": sum(len(e.negatives) for e in examples),
            "queries_with_several_positives": sum(len(e.positives) > 1 for e in examples),
        },
    }
    manifest_path(config.output).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return Path(config.output)


def manifest_path(output: Path) -> Path:
    """``<file>.manifest.json`` beside the training file: its own name, so a folder shared with
    ``retriever mine`` (whose ``manifest.json`` holds the ECI table and judge counters) loses nothing."""
    output = Path(output)
    return output.with_name(output.name + ".manifest.json")


OPTIONS = CommandOptions(ConvertConfig, section="convert")
option = OPTIONS.option


def convert_command(
    data: Annotated[
        str | None, option("--data", "-d", help="Dataset directory or name (BEIR, MS MARCO, DPR layouts).")
    ] = None,
    output: Annotated[
        Path | None, option("--output", "-o", help="Training file to write (JSON lines).")
    ] = None,
    split: Annotated[
        str | None, option("--split", help="Qrels split whose positives are used (never test).")
    ] = None,
    negatives: Annotated[
        int | None, option("--negatives", help="BM25 hard negatives kept per query.")
    ] = None,
    skip_top: Annotated[
        int | None, option("--skip-top", help="Skip this many top non-positive BM25 hits first.")
    ] = None,
    min_grade: Annotated[
        int | None, option("--min-grade", help="Qrels grade at or above which a document is positive.")
    ] = None,
    title_separator: Annotated[
        str | None,
        option(
            "--title-separator",
            field=("title_separator", "bm25.title_separator"),
            help="Joins title and text (passages and BM25).",
        ),
    ] = None,
    config: ConfigFile = None,
    set_: Overrides = None,
) -> None:
    """Turn a dataset split's qrels and BM25 hard negatives into a training file for `retriever train`
    (mining's preset without teacher, judge or ECI).

    Example: retriever convert --data scifact --split train --negatives 30 --output runs/train.jsonl
    """
    settings = OPTIONS.build(locals(), config=config, overrides=set_)
    if settings.split == "test":
        typer.secho(
            "warning: converting the test split into training data; a model trained on it must not be "
            "evaluated on that split",
            err=True,
            fg="yellow",
        )
    path = convert(settings)
    typer.echo(f"wrote {path}")
