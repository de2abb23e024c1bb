#!/usr/bin/env bash
# The NFCorpus fine-tuning benchmark as run for the README, one run after another (2 cores: never in parallel).
# Each line resumes from its cache under eval/output/train_nfcorpus_runs, so the script can be rerun after a cut.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
PY=.venv/bin/python
export PYTHONPATH="$PWD"  # a frozen copy of the code may run the queue while the tree changes
COMMON=(--data ../shared/data/nfcorpus --dev-split dev --lrs 5e-5 --max-steps 80 --batch-size 16
        --max-seq-length 128 --max-positives 4 --hard-negatives 4 --negatives 30 --skip-top 0 --hybrid)
$PY eval/bench_train_speed.py --rounds 1 --steps 6 > eval/output/train_speed.txt
$PY eval/bench_train.py "${COMMON[@]}" --objectives mnrl,lsepair --eval-base --seed 42 --name train_nfcorpus_seed42
$PY eval/bench_train.py "${COMMON[@]}" --objectives mnrl,lsepair,jointlh,summarglh,rand1lh --seed 42 --name train_nfcorpus_seed42
$PY eval/bench_train.py "${COMMON[@]}" --objectives mnrl,lsepair --seed 43 --name train_nfcorpus_seed43
$PY eval/bench_train.py "${COMMON[@]}" --objectives lsepair,jointlh,summarglh --noise-rate 0.5 --seed 42 --name train_nfcorpus_noise50_seed42
$PY eval/bench_train.py "${COMMON[@]}" --objectives mnrl,lsepair --seed 44 --name train_nfcorpus_seed44
