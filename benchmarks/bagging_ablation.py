"""Does bagging help? molprop test metric against K (1, 3, 10, 20), 3 seeds (resumable).

K=1 and K=10 are the ``k1`` / ``k10`` runs of ``accuracy.py`` (identical configuration), so only
K=3 and K=20 are trained here unless they are missing. Every run uses the lowest-energy K of
max(K, 10) generated conformers. The Spearman correlations between conformer spread (and, for
ensembles, ensemble spread) and absolute test error are read from each run's ``metrics.json``
and tabulated by ``report.py``.

Usage (from the repo root)::

    OMP_NUM_THREADS=1 nice -n 19 python benchmarks/bagging_ablation.py \
        [--datasets esol freesolv bbbp lipo] [--split scaffold] [--ks 1 3 10 20] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATASETS, SEEDS, claim, command_line, log, machine, release  # noqa: E402
from _molprop_run import SETUPS, done, failed_before, run_name, run_one  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the missing K settings, dataset by dataset, seed-major."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--split", default="scaffold")
    ap.add_argument("--ks", nargs="+", type=int, default=[1, 3, 10, 20])
    ap.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    ap.add_argument("extra", nargs="*", help="extra Hydra overrides (after --)")
    ap.add_argument(
        "--max-runs",
        type=int,
        default=None,
        help="stop after this many runs (exit 3 when nothing was left to run)",
    )
    args = ap.parse_args(argv)
    print(f"command: {command_line()}", flush=True)
    print(f"machine: {json.dumps(machine())}", flush=True)
    failures, ran = 0, 0
    for ds in args.datasets:
        for seed in args.seeds:
            for k in args.ks:
                setup = f"k{k}"
                if setup not in SETUPS:
                    sys.exit(f"--ks: K={k} has no setup; known: {sorted(SETUPS)}")
                if done(ds, args.split, setup, seed):
                    log(f"skip {ds}/{args.split}/{setup}/seed{seed} (already recorded)")
                    continue
                if failed_before(ds, args.split, setup, seed):
                    log(f"skip {ds}/{args.split}/{setup}/seed{seed} (failed before)")
                    continue
                if args.max_runs is not None and ran >= args.max_runs:
                    return 1 if failures else 0
                name = run_name(ds, args.split, setup, seed)
                if not claim(name):
                    log(f"skip {ds}/{args.split}/{setup}/seed{seed} (running in another process)")
                    continue
                ran += 1
                try:
                    if run_one(ds, args.split, setup, seed, args.extra) is None:
                        failures += 1
                finally:
                    release(name)
    return 3 if ran == 0 else (1 if failures else 0)


if __name__ == "__main__":
    raise SystemExit(main())
