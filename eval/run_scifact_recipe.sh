#!/usr/bin/env bash
# recipes/scifact.yaml measured against the plain sentence-transformers recipe (MNRL, 32 rows, 58 steps) in one
# table: the recipe's mine stage builds the training file, then bench_train.py trains the recipe's objective
# (first, so that a cut run still has it) and MNRL on it at equal optimizer steps and scores both on test (dense
# and hybrid, paired interval vs MNRL), once per seed given (default 42; e.g. `eval/run_scifact_recipe.sh 42 43`).
# Base MiniLM and BM25 are not rerun (0.6451 published, 0.6863 measured).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
export RETRIEVER_DATA_HOME="${RETRIEVER_DATA_HOME:-$PWD/../shared/data}"
export PYTHONPATH="$PWD"
PY=.venv/bin/python
$PY -m retriever.cli run recipes/scifact.yaml --only mine
for seed in "${@:-42}"; do
  $PY eval/bench_train.py --data ../shared/data/scifact --train-file runs/scifact/mined/train.jsonl \
    --objectives lsepair,mnrl --lrs 5e-5 --epochs 3 --max-steps 58 --batch-size 32 --max-seq-length 256 \
    --max-positives 4 --hard-negatives 4 --mnrl-batch-size 32 --dev-fraction 0 --hybrid --seed "$seed" \
    --name "train_scifact_recipe_seed$seed"
done
