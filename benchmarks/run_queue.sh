#!/usr/bin/env bash
# Run the accuracy benchmarks in two lanes, one per core, each lane one job at a time.
# Resumable: every script skips what is already in benchmarks/results/*.jsonl, and a molprop
# training stopped part-way continues from its last checkpoint. From the repo root:
#   nohup bash benchmarks/run_queue.sh a > benchmarks/work/queue_a.log 2>&1 &
#   nohup bash benchmarks/run_queue.sh b > benchmarks/work/queue_b.log 2>&1 &
# A lane skips a run that another lane is running (benchmarks/work/running/ markers), so lanes
# may share jobs; lane c starts from the far end of lane b's Lipo list, lane e from the far
# end of lane d's. Lane `rest` lists every cell still missing: start it in two processes. Run
# `bash benchmarks/run_queue.sh cache` once first: it fills the BBBP and Lipo conformer cache
# (the setting every accuracy run uses: 10 conformers, MMFF, seed 0, prune 0.5 A). Jobs are in
# priority order: scaffold seeds first, then random split. After stopping the lanes, clear
# benchmarks/work/running/ before starting new ones (a reused PID would look alive).
# Then `python benchmarks/report.py` renders BENCHMARKS.md and the README's result blocks.
cd "$(dirname "$0")/.." || exit 1
# WAIT_PID=<pid>: wait for that process (e.g. a job of an earlier queue) to exit first
if [ -n "${WAIT_PID:-}" ]; then
  while kill -0 "$WAIT_PID" 2>/dev/null; do sleep 10; done
fi
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=${PYTHON:-python}
stamp() { date -u '+%Y-%m-%d %H:%M:%S UTC'; }
run() { echo "[$(stamp)] $*"; nice -n 19 "$PY" "$@"; echo "[$(stamp)] exit $?"; }
acc() { run benchmarks/accuracy.py --splits scaffold "$@"; }
chem() { run benchmarks/chemprop_runs.py --splits scaffold "$@" >> benchmarks/work/chemprop_runs.log 2>&1; }

# BBBP and Lipo runs pass conformers.max_attempts=0 (RDKit's own limit): their conformer cache
# was filled by `python -m molprop.cli.conformers` before that CLI took the config's max_attempts.
MA0=(-- conformers.max_attempts=0)
case "${1:-}" in
  cache)
    for d in bbbp lipo; do
      run -m molprop.cli.conformers "../shared/data/$d.csv" --num-conformers 10 --optimize mmff \
        --seed 0 --prune-rms 0.5 --max-attempts 0 --workers 1 --cache-dir data/cache --quiet
    done
    ;;
  a)
    acc --datasets esol freesolv --setups k10 k1
    acc --datasets esol freesolv --setups k10_ens3 --seeds 0 1
    chem --datasets bbbp
    acc --datasets bbbp --setups k10 k1 --seeds 0 1 "${MA0[@]}"
    run benchmarks/bagging_inference.py --datasets esol freesolv
    chem --datasets esol freesolv bbbp --splits random_seed0 --seeds 0
    acc --datasets esol freesolv --splits random_seed0 --setups k10 k1 --seeds 0
    acc --datasets bbbp --splits random_seed0 --setups k10 k1 --seeds 0 "${MA0[@]}"
    acc --datasets bbbp --setups k10 k1 "${MA0[@]}"
    acc --datasets esol freesolv --setups k10_ens3 --seeds 2
    run benchmarks/bagging_inference.py --datasets bbbp --seeds 0
    acc --datasets bbbp --setups k10_ens3 --seeds 0 "${MA0[@]}"
    ;;
  b)
    chem --datasets lipo
    acc --datasets lipo --setups k10 k1 --seeds 0 "${MA0[@]}"
    acc --datasets lipo --setups k10 --seeds 1 "${MA0[@]}"
    chem --datasets lipo --splits random_seed0 --seeds 0
    acc --datasets lipo --splits random_seed0 --setups k10 k1 --seeds 0 "${MA0[@]}"
    acc --datasets lipo --setups k1 --seeds 1 "${MA0[@]}"
    acc --datasets lipo --setups k10 k1 --seeds 2 "${MA0[@]}"
    run benchmarks/bagging_inference.py --datasets lipo --seeds 0
    acc --datasets lipo --setups k10_ens3 --seeds 0 "${MA0[@]}"
    ;;
  c)
    acc --datasets lipo --setups k10 k1 --seeds 2 "${MA0[@]}"
    acc --datasets lipo --setups k1 --seeds 1 "${MA0[@]}"
    acc --datasets bbbp --setups k10_ens3 --seeds 1 2 "${MA0[@]}"
    run benchmarks/bagging_inference.py --datasets lipo --seeds 0
    ;;
  d)
    acc --datasets lipo --setups k10_ens3 --seeds 0 1 2 "${MA0[@]}"
    ;;
  e)
    acc --datasets bbbp --setups k10_ens3 --seeds 1 2 "${MA0[@]}"
    acc --datasets lipo --setups k10_ens3 --seeds 2 1 0 "${MA0[@]}"
    ;;
  rest)
    # Every cell still missing, in priority order. Start it twice (one lane per core): the
    # running markers let both lanes share the list.
    acc --datasets lipo bbbp --setups k10_ens3 "${MA0[@]}"
    run benchmarks/bagging_inference.py --datasets bbbp lipo --seeds 1 2
    chem --datasets esol freesolv bbbp lipo --splits random_seed0 --seeds 1 2
    acc --datasets esol freesolv --splits random_seed0 --setups k1 k10 k10_ens3
    acc --datasets bbbp lipo --splits random_seed0 --setups k1 k10 "${MA0[@]}"
    acc --datasets bbbp --splits random_seed0 --setups k10_ens3 "${MA0[@]}"
    acc --datasets lipo --splits random_seed0 --setups k10_ens3 "${MA0[@]}"
    run benchmarks/bagging_ablation.py --datasets esol freesolv --ks 3 20
    # Lipo K=3 reuses the cached 10-conformer sets; K=20 first generates 20 conformers each
    run benchmarks/bagging_ablation.py --datasets lipo --ks 3 "${MA0[@]}"
    run benchmarks/bagging_ablation.py --datasets bbbp lipo --ks 3 20 "${MA0[@]}"
    ;;
  *) echo "usage: bash benchmarks/run_queue.sh cache|a|b|c|d|e|rest" >&2; exit 2 ;;
esac
echo "[$(stamp)] lane ${1} done"
