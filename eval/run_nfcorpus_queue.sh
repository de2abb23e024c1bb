#!/usr/bin/env bash
# The NFCorpus fine-tuning benchmark as run for the README, one run after another (2 cores: never in parallel).
# Every run is cached under eval/output/train_nfcorpus_runs, so a later line that lists an objective already
# run only re-reads it, and the script can be rerun after a cut.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
export RETRIEVER_DATA_HOME="${RETRIEVER_DATA_HOME:-$PWD/../shared/data}"
PY=.venv/bin/python
export PYTHONPATH="$PWD"  # a frozen copy of the code may run the queue while the tree changes
COMMON=(--data ../shared/data/nfcorpus --dev-split dev --lrs 5e-5 --max-steps 80 --batch-size 16
        --max-seq-length 128 --max-positives 4 --hard-negatives 4 --negatives 30 --skip-top 0 --hybrid)
if [ "${1:-}" != "--skip-first" ]; then
  $PY eval/bench_train.py "${COMMON[@]}" --objectives mnrl,lsepair --eval-base --seed 42 --name train_nfcorpus_seed42
fi
$PY eval/bench_train.py "${COMMON[@]}" --objectives mnrl,lsepair,jointlh,summarglh --eval-base --seed 42 --name train_nfcorpus_seed42
$PY eval/bench_train.py "${COMMON[@]}" --objectives lsepair,jointlh --noise-rate 0.5 --seed 42 --name train_nfcorpus_noise50_seed42
# SciFact: the recipe's mine stage, then its train stage (lsepair, as bench_train.py runs it) against the plain
# sentence-transformers recipe (MNRL, 32 rows, 2 epochs = 58 steps) on the same mined file.
.venv/bin/retriever run recipes/scifact.yaml --only mine
$PY eval/bench_train.py --data ../shared/data/scifact --train-file runs/scifact/mined/train.jsonl \
    --objectives mnrl,lsepair --lrs 5e-5 --epochs 3 --max-steps 58 --batch-size 32 --max-seq-length 256 \
    --max-positives 4 --hard-negatives 4 --mnrl-batch-size 32 --dev-fraction 0 --hybrid --eval-base \
    --seed 42 --name train_scifact_recipe
$PY eval/bench_train.py "${COMMON[@]}" --objectives mnrl,lsepair --seed 43 --name train_nfcorpus_seed43
