"""Run the chemprop 2.3.1 baseline on our fixed splits, 3 seeds, resumably.

Calls ``../shared/tools/chemprop_baseline.py`` (never copied) once per (dataset, split, seed) and
appends its JSON line, plus the machine and command line, to ``benchmarks/results/chemprop.jsonl``.
Combinations already present in that file are skipped, so the script can be restarted at any time.

Usage (from the repo root; chemprop lives in its own venv, see BENCHMARKS.md)::

    OMP_NUM_THREADS=1 nice -n 19 python benchmarks/chemprop_runs.py \
        [--datasets esol freesolv bbbp lipo] [--splits scaffold random_seed0] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    DATASETS,
    REPO,
    RESULTS,
    SEEDS,
    SHARED,
    SPLITS,
    WORK,
    append_jsonl,
    claim,
    command_line,
    log,
    machine,
    read_jsonl,
    release,
)

BASELINE = SHARED / "tools" / "chemprop_baseline.py"
VENV_BIN = REPO / "benchmarks" / ".venv-chemprop" / "bin" / "chemprop"
OUT = RESULTS / "chemprop.jsonl"


def done_keys(path: Path) -> set[tuple[str, str, int]]:
    """(dataset, split, seed) triples already recorded in the results file."""
    return {(r["dataset"], r["split"], r.get("pytorch_seed")) for r in read_jsonl(path)}


def run_one(dataset: str, split: str, seed: int, epochs: int, chemprop: Path) -> dict | None:
    """Run the baseline tool once; return its JSON result (or None on failure, logged)."""
    cmd = [
        sys.executable,
        str(BASELINE),
        dataset,
        split,
        "--epochs",
        str(epochs),
        "--pytorch-seed",
        str(seed),
        "--chemprop",
        str(chemprop),
    ]
    WORK.mkdir(parents=True, exist_ok=True)
    err_log = WORK / f"chemprop_{dataset}_{split}_s{seed}.stderr.log"
    t0 = time.perf_counter()
    with open(err_log, "w") as err:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        log(f"FAILED {dataset}/{split}/seed{seed} rc={proc.returncode}; see {err_log}")
        return None
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("{")]
    result = json.loads(lines[-1])
    result["total_wall_s"] = round(wall, 1)
    result["command"] = " ".join(cmd)
    result["machine"] = machine()
    return result


def main(argv: list[str] | None = None) -> int:
    """Run every missing (dataset, split, seed) combination in order."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--splits", nargs="+", default=list(SPLITS))
    ap.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--chemprop", type=Path, default=VENV_BIN)
    ap.add_argument("--retry-failed", action="store_true")
    ap.add_argument(
        "--max-runs",
        type=int,
        default=None,
        help="stop after this many runs (exit 3 when nothing was left to run)",
    )
    args = ap.parse_args(argv)
    print(f"command: {command_line()}", flush=True)
    print(f"machine: {json.dumps(machine())}", flush=True)
    if not args.chemprop.exists():
        sys.exit(f"--chemprop: {args.chemprop} does not exist; create benchmarks/.venv-chemprop")
    failures, ran = 0, 0
    failed_dir = WORK / "failed"
    for split in args.splits:
        for dataset in args.datasets:
            for seed in args.seeds:
                marker = failed_dir / f"chemprop_{dataset}_{split}_s{seed}"
                if (dataset, split, seed) in done_keys(OUT):
                    log(f"skip {dataset}/{split}/seed{seed} (already in {OUT.name})")
                    continue
                if marker.exists() and not args.retry_failed:
                    log(f"skip {dataset}/{split}/seed{seed} (failed before; --retry-failed)")
                    continue
                if args.max_runs is not None and ran >= args.max_runs:
                    return 1 if failures else 0
                name = f"chemprop_{dataset}_{split}_s{seed}"
                if not claim(name):
                    log(f"skip {dataset}/{split}/seed{seed} (running in another process)")
                    continue
                ran += 1
                log(f"run {dataset}/{split}/seed{seed}")
                try:
                    result = run_one(dataset, split, seed, args.epochs, args.chemprop)
                finally:
                    release(name)
                if result is None:
                    failures += 1
                    failed_dir.mkdir(parents=True, exist_ok=True)
                    marker.write_text(time.strftime("%Y-%m-%d %H:%M:%S") + "\n")
                    continue
                append_jsonl(OUT, result)
                metric = result.get("test_rmse", result.get("test_roc_auc"))
                log(
                    f"done {dataset}/{split}/seed{seed}: metric={metric} "
                    f"train={result['train_wall_s']}s total={result['total_wall_s']}s"
                )
    if ran == 0:
        return 3
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
