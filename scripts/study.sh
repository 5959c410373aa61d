#!/usr/bin/env bash
# The issue-16 study: every strategy on the dev data 2009-06-01..2018-12-31 (the skeleton's dates), the two
# models over 5 seeds, against top100_baseline, SPY and the four reference allocators. Two commands:
#   bash scripts/study.sh run      # the backtests, through `python -m lean_local optimize` (resumable: rerun
#                                  # it after a kill and only the unfinished combinations run)
#   bash scripts/study.sh report   # `python -m lean_local compare` over them -> research/results/study/
# WORKERS (default 2) backtests run at once; STUDY_SEEDS (default 1,2,3,4,5). The models are the CPU demo sizes:
# perl_portfolio with a random chronos-t5-tiny, llm4fts_ranker with a random GPT-2 of 2 layers, width 64, one
# pass over the first training year (the default 6 layers cost ~3x as much per step).
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
workers="${WORKERS:-2}"
seeds="${STUDY_SEEDS:-1,2,3,4,5}"
out=study  # algorithms/<name>/optimizations/study
target=(--target "Sharpe Ratio" --target-direction max)

optimize() {  # project, then extra options; one folder per project, resumed when it exists
  local project="$1"; shift
  local folder="algorithms/$project/optimizations/$out"
  if [ -f "$folder/optimization.json" ]; then
    "$py" -m lean_local optimize --resume "$folder" --workers "$workers"
  else
    "$py" -m lean_local optimize "algorithms/$project" --output "$folder" "${target[@]}" --workers "$workers" "$@"
  fi
}

run() {
  for project in top100_baseline spy_buy_and_hold inverse_volatility minimum_variance hierarchical_risk_parity \
                 momentum_12_1; do
    optimize "$project" --parameter-values seed 1  # one combination (deterministic: the seed is unused)
  done
  HF_HUB_OFFLINE=1 optimize perl_portfolio --parameter-values seed "$seeds" \
    --parameter-values model_id amazon/chronos-t5-tiny --parameter-values weights random \
    --parameter-values fresh_start true
  optimize llm4fts_ranker --parameter-values seed "$seeds" --parameter-values model_id gpt2 \
    --parameter-values weights random --parameter-values gpt_width 64 --parameter-values gpt_heads 4 \
    --parameter-values gpt_layers 2 --parameter-values finetune_epochs 1 --parameter-values fresh_start true
}

report() {
  local inputs=()
  for project in top100_baseline spy_buy_and_hold inverse_volatility minimum_variance hierarchical_risk_parity \
                 momentum_12_1 perl_portfolio llm4fts_ranker; do
    inputs+=("algorithms/$project/optimizations/$out")
  done
  "$py" -m lean_local compare "${inputs[@]}" --out research/results/study
}

case "${1:-}" in
  run) run ;;
  report) report ;;
  *) echo "usage: bash scripts/study.sh run|report" >&2; exit 2 ;;
esac
