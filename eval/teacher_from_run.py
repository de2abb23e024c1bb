"""Rescore a training file's teacher with a TREC run: every passage's ``teacher_score`` becomes the run's score.

The distillation experiment of ``retriever train --set distill_weight=...``: the teacher is any ranking of the
training queries written as a TREC run, e.g. the hybrid (min-max interpolation of BM25 and a dense model) that
``retriever eval --split train -r hybrid --fusion interpolation`` writes. A passage the run did not retrieve for
its query gets that query's lowest score in the run (0 for an interpolation run cut at its depth); a query the
run lacks keeps no teacher score (training then distils nothing for it). ``--positives-only`` scores the
positives and clears the negatives' teacher scores, so distillation orders a query's positives among themselves
and leaves positives against negatives to the labels.

    python eval/teacher_from_run.py --training-file runs/nfcorpus/mined/train.jsonl \
        --run runs/distill/teacher_nodrop_train/hybrid/run.trec --output runs/distill/train_hybrid_teacher.jsonl
"""

from __future__ import annotations

import argparse

from retriever.data.dataset import Run
from retriever.data.training_file import TrainingExample, read_training_file, write_training_file
from retriever.eval.metrics import read_trec_run
from retriever.outputs import require_output_file


def rescored(example: TrainingExample, run: Run, positives_only: bool = False) -> TrainingExample:
    """``example`` with the run's scores as its passages' teacher scores (see the module docstring)."""
    scores = run.get(example.query_id, {})
    floor = min(scores.values(), default=None)

    def with_score(passage):
        return passage.model_copy(update={"teacher_score": scores.get(passage.id, floor)})

    return example.model_copy(
        update={
            "positives": [with_score(p) for p in example.positives],
            "negatives": [
                n.model_copy(update={"teacher_score": None}) if positives_only else with_score(n)
                for n in example.negatives
            ],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--training-file", required=True, help="Training file whose teacher is replaced.")
    parser.add_argument("--run", required=True, help="TREC run of the training queries (the new teacher).")
    parser.add_argument("--output", required=True, help="New training file (overwritten atomically).")
    parser.add_argument("--positives-only", action="store_true", help="Clear the negatives' teacher scores.")
    args = parser.parse_args()
    require_output_file(args.output)
    run = read_trec_run(args.run)
    examples = read_training_file(args.training_file)
    write_training_file(args.output, [rescored(example, run, args.positives_only) for example in examples])
    unscored = sum(example.query_id not in run for example in examples)
    passages = [(e.query_id, p.id) for e in examples for p in (*e.positives, *e.negatives)]
    missing = sum(doc not in run.get(query, {}) for query, doc in passages)
    print(
        f"{len(examples)} queries ({unscored} not in the run, left without teacher scores), {len(passages)} "
        f"passages, "
        f"{missing} of them not retrieved by the run (scored at their query's floor); wrote {args.output}"
    )


if __name__ == "__main__":
    main()
