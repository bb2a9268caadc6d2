"""Add ``per_molecule`` targets and predictions to records written before the runner kept them.

Not a test. A record gets them only from the test predictions its own cell left in
``--work`` (``runs/<cell>/bench_test_preds_<setup>.csv`` for molprop,
``peer/<cell>/preds.csv`` for chemprop), scored by the runner's :func:`benchmarks.run.score`;
the record is changed only when that recomputes its stored test metric, so a file that is not
the record's own is never used. Records without such a file are left as they are.

    python -m benchmarks.backfill            # rewrites benchmarks/results/records.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd
import yaml

from benchmarks._common import DATA_DIR, RESULTS, WORK, read_jsonl
from benchmarks.run import MATRIX, run_dir, score, test_set
from molprop.atomic import write_text_atomic


def predictions_file(rec: dict, matrix: dict, work: Path) -> Path:
    """Where the cell of ``rec`` left its test predictions."""
    spec = matrix["setups"][rec["setup"]]
    cell = (rec["dataset"], rec["split"], rec["setup"], rec["seed"])
    if "peer" in spec:
        return work / "peer" / "{}_{}_{}_s{}".format(*cell) / "preds.csv"
    run = run_dir(work, cell[0], cell[1], spec.get("train_as", cell[2]), cell[3])
    return run / f"bench_test_preds_{rec['setup']}.csv"


def backfill(records: list[dict], matrix: dict, work: Path, data_dir: Path) -> int:
    """Fill ``per_molecule`` in place where the cell's own predictions are at hand; a count."""
    filled = 0
    for rec in records:
        path = predictions_file(rec, matrix, work)
        if "per_molecule" in rec or rec["setup"] not in matrix["setups"] or not path.is_file():
            continue
        target = matrix["datasets"][rec["dataset"]]["target"]
        truth = test_set(data_dir, rec["dataset"], rec["split"], target)
        scored = score(pd.read_csv(path), truth, target, rec["task"])
        metric = "test_rmse" if rec["task"] == "regression" else "test_roc_auc"
        if not math.isclose(scored[metric], rec[metric], abs_tol=1e-4):
            print(f"skipped {path}: {metric} {scored[metric]} != recorded {rec[metric]}")
            continue
        rec["per_molecule"] = scored["per_molecule"]
        filled += 1
    return filled


def main(argv: list[str] | None = None) -> int:
    """Rewrite ``--results`` with the filled records."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", type=Path, default=RESULTS / "records.jsonl")
    ap.add_argument("--work", type=Path, default=WORK)
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = ap.parse_args(argv)
    records = read_jsonl(args.results)
    filled = backfill(records, yaml.safe_load(MATRIX.read_text()), args.work, args.data_dir)
    write_text_atomic(args.results, "".join(json.dumps(r) + "\n" for r in records))
    print(f"per_molecule added to {filled} of {len(records)} records")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
