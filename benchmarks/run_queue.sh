#!/usr/bin/env bash
# Run every benchmark one job at a time, interleaving one molprop run with one chemprop run,
# and re-render BENCHMARKS.md after each. Resumable: every script skips what is already in
# benchmarks/results/*.jsonl. Start it in the background from the repo root:
#   nohup bash benchmarks/run_queue.sh > benchmarks/work/queue.log 2>&1 &
# WAIT_PID=<pid> makes it wait for that process (e.g. a run of an earlier queue) to exit first.
cd "$(dirname "$0")/.." || exit 1
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=${PYTHON:-python}
stamp() { date -u '+%Y-%m-%d %H:%M:%S UTC'; }
if [ -n "${WAIT_PID:-}" ]; then
  echo "[$(stamp)] waiting for pid $WAIT_PID"
  while kill -0 "$WAIT_PID" 2>/dev/null; do sleep 10; done
fi

# phase = the molprop command whose queue is drained; chemprop runs are interleaved (one after
# each molprop run) except in phases marked "solo:" (ESOL + FreeSolv scaffold first, alone: the
# chemprop baselines for those two already exist).
PHASES=(
  "solo:benchmarks/accuracy.py --datasets esol freesolv --splits scaffold"
  "benchmarks/accuracy.py --datasets esol --splits scaffold --setups k10_mtiny k10_mdefault"
  "benchmarks/bagging_ablation.py --datasets esol freesolv --split scaffold --ks 3 20"
  "benchmarks/accuracy.py --datasets bbbp lipo --splits scaffold"
  "benchmarks/bagging_ablation.py --datasets bbbp lipo --split scaffold --ks 3 20"
  "benchmarks/accuracy.py --datasets esol freesolv bbbp lipo --splits random_seed0"
)
for phase in "${PHASES[@]}"; do
  solo=0
  case "$phase" in solo:*) solo=1; phase=${phase#solo:} ;; esac
  while :; do
    echo "[$(stamp)] molprop: $phase --max-runs 1"
    # shellcheck disable=SC2086
    nice -n 19 "$PY" $phase --max-runs 1; a=$?
    if [ "$solo" -eq 0 ]; then
      echo "[$(stamp)] chemprop: benchmarks/chemprop_runs.py --max-runs 1"
      nice -n 19 "$PY" benchmarks/chemprop_runs.py --max-runs 1 \
        >> benchmarks/work/chemprop_runs.log 2>&1
    fi
    nice -n 19 "$PY" benchmarks/report.py
    [ "$a" -eq 3 ] && break
  done
done
echo "[$(stamp)] molprop queue empty; finishing chemprop"
while :; do
  nice -n 19 "$PY" benchmarks/chemprop_runs.py --max-runs 1 >> benchmarks/work/chemprop_runs.log 2>&1
  [ $? -eq 3 ] && break
  nice -n 19 "$PY" benchmarks/report.py
done
nice -n 19 "$PY" benchmarks/report.py
echo "[$(stamp)] all done"
