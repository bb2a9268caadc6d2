"""molprop accuracy on the fixed splits, in three setups, 3 seeds each (resumable).

Setups: ``k1`` (a single conformer), ``k10`` (10 conformers bagged), ``k10_ens3`` (10 conformers,
ensemble of 3); by name also the ablations ``k10_ens5``, ``k20_ens3``, ``k10_mtiny`` and
``k10_mdefault``. Each (dataset, split, setup, seed) trains with ``python train.py
experiment=<dataset> ...`` (see ``_molprop_run.train_overrides``), then times ``predict.py`` on the
test SMILES and scores its output in plain Python. One JSON line per run is appended to
``benchmarks/results/molprop.jsonl``; combinations already there are skipped.

Usage (from the repo root)::

    OMP_NUM_THREADS=1 nice -n 19 python benchmarks/accuracy.py \
        [--datasets esol freesolv bbbp lipo] [--splits scaffold random_seed0] \
        [--setups k1 k10 k10_ens3] [--seeds 0 1 2] [--order setup|seed] [-- EXTRA_OVERRIDES...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    DATASETS,
    SEEDS,
    SPLITS,
    claim,
    command_line,
    log,
    machine,
    release,
)
from _molprop_run import (  # noqa: E402
    OUT,
    SETUPS,
    done,
    failed_before,
    run_name,
    run_one,
)

ACCURACY_SETUPS = ("k1", "k10", "k10_ens3")


def plan(datasets, splits, setups, seeds, order: str) -> list[tuple[str, str, str, int]]:
    """All combinations; ``order='seed'`` finishes seed 0 of every setup before seed 1."""
    out = []
    for split in splits:
        for ds in datasets:
            if order == "seed":
                out += [(ds, split, st, s) for s in seeds for st in setups]
            else:
                out += [(ds, split, st, s) for st in setups for s in seeds]
    return out


def main(argv: list[str] | None = None) -> int:
    """Run every missing combination, one at a time."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--splits", nargs="+", default=list(SPLITS))
    ap.add_argument("--setups", nargs="+", default=list(ACCURACY_SETUPS), choices=sorted(SETUPS))
    ap.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    ap.add_argument("--order", choices=("setup", "seed"), default="seed")
    ap.add_argument("--tag", default="", help="suffix for run dirs/logs (e.g. smoke)")
    ap.add_argument(
        "--results",
        type=Path,
        default=OUT,
        help="JSONL to append to (default benchmarks/results/molprop.jsonl)",
    )
    ap.add_argument(
        "--retry-failed",
        action="store_true",
        help="also rerun combinations whose earlier run failed",
    )
    ap.add_argument("--dry-run", action="store_true", help="print the plan and exit")
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
    for ds, split, setup, seed in plan(
        args.datasets, args.splits, args.setups, args.seeds, args.order
    ):
        if done(ds, split, setup, seed, args.results):
            log(f"skip {ds}/{split}/{setup}/seed{seed} (already recorded)")
            continue
        if failed_before(ds, split, setup, seed, args.tag) and not args.retry_failed:
            log(f"skip {ds}/{split}/{setup}/seed{seed} (failed before; --retry-failed)")
            continue
        if args.dry_run:
            log(f"would run {ds}/{split}/{setup}/seed{seed}")
            continue
        if args.max_runs is not None and ran >= args.max_runs:
            return 1 if failures else 0
        name = run_name(ds, split, setup, seed, args.tag)
        if not claim(name):
            log(f"skip {ds}/{split}/{setup}/seed{seed} (running in another process)")
            continue
        ran += 1
        try:
            if (
                run_one(ds, split, setup, seed, args.extra, tag=args.tag, results=args.results)
                is None
            ):
                failures += 1
        finally:
            release(name)
    if ran == 0 and not args.dry_run:
        return 3
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
