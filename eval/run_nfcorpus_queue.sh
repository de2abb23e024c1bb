#!/usr/bin/env bash
# The NFCorpus fine-tuning benchmark as run for the README, one run after another (2 cores: never in parallel).
# Every run is cached under eval/output/train_nfcorpus_runs, so a later line that lists an objective already
# run only re-reads it, and the script can be rerun after a cut.
#   eval/run_nfcorpus_queue.sh seed42   # base, BM25, MNRL / LSEPair / JointLH at lr 5e-5, no-hard, noise 50%
#   eval/run_nfcorpus_queue.sh noise-random # LSEPair / JointLH at 50% and 25% random false positives, SumMargLH 0 / 50%
#   eval/run_nfcorpus_queue.sh summarglh-seeds # SumMargLH at seeds 43 and 44 (80 steps)
#   eval/run_nfcorpus_queue.sh noise-staged # LSEPair / JointLH / SumMargLH at 50% random false positives, staged:
#                                       # 40 steps on the mixture, then 40 on the qrels positives only
#   eval/run_nfcorpus_queue.sh lr       # MNRL and JointLH at lr 2e-5 (dev decides the lr of each objective)
#   eval/run_nfcorpus_queue.sh lr-high  # JointLH at lr 1e-4 (dev only informs; MNRL at 1e-4 not run: time)
#   eval/run_nfcorpus_queue.sh seed 43  # MNRL and JointLH, each at its dev-chosen lr, on another seed
#   eval/run_nfcorpus_queue.sh steps200 # JointLH and MNRL at 200 steps, each also averaged with the base (w=0.5),
#                                       # seeds 42 (with the dev curve and the base model), 43 and 44
source "$(dirname "$0")/offline_env.sh"
COMMON=(--data ../shared/data/nfcorpus --dev-split dev --max-steps 80 --batch-size 16
        --max-seq-length 128 --max-positives 4 --hard-negatives 4 --negatives 30 --skip-top 0 --hybrid)
case "${1:-seed42}" in
  seed42)
    $PY eval/bench_train.py "${COMMON[@]}" --lrs 5e-5 --objectives mnrl,lsepair,jointlh --eval-base --seed 42 \
      --name train_nfcorpus_seed42
    # Does fine-tuning help at all without BM25 hard negatives (NFCorpus relevance is dense: its top BM25 hits
    # outside the qrels are often relevant, i.e. false negatives)? In-batch negatives only.
    $PY eval/bench_train.py "${COMMON[@]}" --lrs 5e-5 --objectives lsepair --hard-negatives 0 --seed 42 \
      --name train_nfcorpus_nohard_seed42
    # The paper's noisy-positive claim: 50% extra false positives (top BM25 non-qrels hits, source "noise").
    $PY eval/bench_train.py "${COMMON[@]}" --lrs 5e-5 --objectives lsepair,jointlh --noise-rate 0.5 --seed 42 \
      --name train_nfcorpus_noise50_seed42
    ;;
  noise-random)
    # The same claim with false positives that are certainly wrong: random non-qrels documents (NFCorpus's top
    # BM25 non-qrels hits are often relevant, so the bm25 source above cannot test it). Clean rows: seed42.
    for percent in 50 25; do
      $PY eval/bench_train.py "${COMMON[@]}" --lrs 5e-5 --objectives lsepair,jointlh --noise-rate "0.$percent" \
        --noise-source random --seed 42 --name "train_nfcorpus_noise${percent}random_seed42"
    done
    $PY eval/bench_train.py "${COMMON[@]}" --lrs 5e-5 --objectives summarglh --seed 42 \
      --name train_nfcorpus_summarglh_seed42
    $PY eval/bench_train.py "${COMMON[@]}" --lrs 5e-5 --objectives summarglh --noise-rate 0.5 \
      --noise-source random --seed 42 --name train_nfcorpus_summarglh_noise50random_seed42
    ;;
  noise-staged)  # the source-aware answer to noise-random's 50% rows: the paper's mixed regime at equal steps
    $PY eval/bench_train.py "${COMMON[@]}" --lrs 5e-5 --objectives lsepair,jointlh,summarglh --noise-rate 0.5 \
      --noise-source random --source-aware staged --staged-steps 40 --seed 42 \
      --name train_nfcorpus_noise50random_staged_seed42
    ;;
  summarglh-seeds)  # SumMargLH led at seed 42 (noise-random's clean row): seeds 43 and 44 of it at 80 steps
    for seed in 43 44; do
      $PY eval/bench_train.py "${COMMON[@]}" --lrs 5e-5 --objectives summarglh --seed "$seed" \
        --name "train_nfcorpus_summarglh_seed${seed}"
    done
    ;;
  lr)
    $PY eval/bench_train.py "${COMMON[@]}" --lrs 2e-5 --objectives mnrl,jointlh --seed 42 \
      --name train_nfcorpus_lr2e-5_seed42
    ;;
  lr-high)  # 2e-5 scored below 5e-5 on dev for both objectives: does a higher rate help further?
    $PY eval/bench_train.py "${COMMON[@]}" --lrs 1e-4 --objectives jointlh --seed 42 \
      --name train_nfcorpus_lr1e-4_seed42
    ;;
  seed)
    seed="$2"
    for objective in mnrl jointlh; do
      # the lr with the better dev nDCG@10 at seed 42 (train_nfcorpus_seed42 vs train_nfcorpus_lr2e-5_seed42)
      lr=$($PY - "$objective" <<'PY'
import json, sys
rows = [row for name in ("train_nfcorpus_seed42", "train_nfcorpus_lr2e-5_seed42")
        for row in json.load(open(f"eval/output/{name}.json"))["rows"] if row["objective"] == sys.argv[1]]
print(f"{max(rows, key=lambda row: row['dev']['nDCG@10'])['lr']:g}")
PY
)
      $PY eval/bench_train.py "${COMMON[@]}" --lrs "$lr" --objectives "$objective" --seed "$seed" \
        --name "train_nfcorpus_${objective}_seed${seed}"
    done
    ;;
  steps200)
    for seed in 42 43 44; do
      extra=()
      [ "$seed" = 42 ] && extra=(--save-steps 100 --keep-checkpoints 3 --curve --eval-base)
      # the later --max-steps 200 overrides COMMON's 80; 2 epochs so that 200 steps fit (1.2 epochs)
      $PY eval/bench_train.py "${COMMON[@]}" --lrs 5e-5 --objectives jointlh,mnrl \
        --epochs 2 --max-steps 200 --base-weights 0.5 --seed "$seed" "${extra[@]}" --name "train_nfcorpus_steps200_seed${seed}"
    done
    ;;
  *) echo "usage: $0 seed42 | noise-random | noise-staged | summarglh-seeds | lr | lr-high | seed N | steps200" >&2; exit 2 ;;
esac
