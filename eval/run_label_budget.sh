#!/usr/bin/env bash
# How many labelled queries does a user need? recipes/nfcorpus.yaml's training and document expansion with K of
# NFCorpus's 2,590 labelled train queries (K = 50, 200, 800, each a seeded draw: eval/label_subsets.py), scored
# on the untouched dev split next to the base model: dense and hybrid (the recipe's interpolation fusion), on the
# plain index and on the index expanded with the same K queries (weight 2, the recipe's). K = all reuses the
# recipe's full-train models of the grid (runs/nfcorpus_grid/nodrop, nodrop_seed43, nodrop_seed44), trained the same way.
# Needs the recipe's mined file (runs/nfcorpus/mined: `retriever run recipes/nfcorpus.yaml --only mine`) and, for
# K = all, the grid's models (eval/run_nfcorpus_recipe_grid.sh nodrop nodrop@43 nodrop@44).
# One run after another (2 cores); finished trainings and evals are not redone, so the queue can be rerun.
# EPOCHS=N trains N passes instead of the recipe's 2 (a small K makes few steps: 50 queries, 8), into
# runs/label_budget/epochsN, for the budgets in BUDGETS (default 50 200 800), without the full-train entry.
#   eval/run_label_budget.sh [SEED ...]                          # default: 42 43 44
#   EPOCHS=8 BUDGETS="50 200" eval/run_label_budget.sh 42 43
# Then: python eval/label_budget_table.py --output eval/output/nfcorpus_label_budget [--root runs/label_budget/epochsN]
source "$(dirname "$0")/offline_env.sh"
ROOT=runs/label_budget
DATA=$ROOT/nfcorpus
OUT=$ROOT${EPOCHS:+/epochs$EPOCHS}
BASE=sentence-transformers/all-MiniLM-L6-v2
read -r -a BUDGETS <<< "${BUDGETS:-50 200 800}"
declare -A FULL=(
  [42]=runs/nfcorpus_grid/nodrop/model [43]=runs/nfcorpus_grid/nodrop_seed43/model
  [44]=runs/nfcorpus_grid/nodrop_seed44/model
)

evaluate() {  # evaluate MODEL EXPANSION_SPLIT OUT: dev, plain and expanded, base and MODEL
  local model=$1 split=$2 out=$3
  [[ -f $out/eval_dev/report.json ]] ||
    $RETRIEVER eval --data "$DATA" --split dev -m "$BASE" -m "$model" -r dense -r hybrid \
      --fusion interpolation --output "$out/eval_dev"
  [[ -f $out/eval_dev_docexp/report.json ]] ||
    $RETRIEVER eval --data "$DATA" --split dev -m "$BASE" -m "$model" -r dense -r hybrid \
      --fusion interpolation --expand-with "$split" --expansion-weight 2 --output "$out/eval_dev_docexp"
}

SEEDS=("$@")
[[ ${#SEEDS[@]} -gt 0 ]] || SEEDS=(42 43 44)
for seed in "${SEEDS[@]}"; do
  for k in "${BUDGETS[@]}"; do
    name=train-$k-s$seed
    out=$OUT/$name
    [[ -f $ROOT/$name.jsonl ]] || $PY eval/label_subsets.py --data ../shared/data/nfcorpus \
      --training-file runs/nfcorpus/mined/train.jsonl --output "$ROOT" --queries "$k" --seed "$seed"
    if [[ ! -f $out/model/training_complete.json ]]; then
      echo "== $(date -u +%H:%M:%S) train $name"
      $RETRIEVER train -c recipes/nfcorpus.yaml --data "$ROOT/$name.jsonl" --output "$out/model" --seed "$seed" \
        ${EPOCHS:+--epochs "$EPOCHS"}
    fi
    echo "== $(date -u +%H:%M:%S) eval $name"
    evaluate "$out/model" "$name" "$out"
  done
  if [[ -z ${EPOCHS:-} ]]; then
    echo "== $(date -u +%H:%M:%S) eval train-all-s$seed"
    evaluate "${FULL[$seed]}" train "$ROOT/train-all-s$seed"
  fi
done
echo "== $(date -u +%H:%M:%S) done"
