"""Does bagging help? One trained K=10 model, predicted with K = 1, 3, 10, 20 conformers.

For every recorded ``k10`` accuracy run whose run directory still holds ``model/``, runs
``predict.py RUN_DIR --input TEST.csv --num-conformers K`` on the split's test SMILES and scores
the output with the same plain-Python code as ``accuracy.py``. Holding the weights fixed isolates
the effect of bagging at inference from training noise; the training-time comparison is the
``k1`` against ``k10`` accuracy runs. Also records the Spearman correlation between the
per-molecule conformer spread (``<task>_conformer_std``) and the absolute error (for BBBP, of
the predicted probability against the 0/1 label, as molprop's own test metrics do).
Appends to ``benchmarks/results/bagging_inference.jsonl``; combinations already there are skipped.
``--rescore`` recomputes that correlation where a record lacks it, from the prediction CSV kept
in the run directory (no prediction is rerun), and rewrites the file.

Usage (from the repo root)::

    OMP_NUM_THREADS=1 nice -n 19 python benchmarks/bagging_inference.py \
        [--datasets esol freesolv bbbp lipo] [--split scaffold] [--ks 1 3 10 20] [--seeds 0 1 2]
    python benchmarks/bagging_inference.py --rescore
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    DATASETS,
    RESULTS,
    SEEDS,
    WORK,
    append_jsonl,
    claim,
    command_line,
    log,
    machine,
    read_jsonl,
    release,
    timed,
)
from _molprop_run import predict_command, run_name  # noqa: E402
from _scoring import (  # noqa: E402
    TARGETS,
    average_ranks,
    pick_prediction_column,
    score_predictions,
    test_rows,
)

OUT = RESULTS / "bagging_inference.jsonl"


def spearman(a: list[float], b: list[float]) -> float | None:
    """Spearman rank correlation (average ranks for ties); None when undefined."""
    if len(a) < 3:
        return None
    ra, rb = average_ranks(a), average_ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    va = sum((x - ma) ** 2 for x in ra) ** 0.5
    vb = sum((y - mb) ** 2 for y in rb) ** 0.5
    return None if va == 0 or vb == 0 else cov / (va * vb)


def spread_error(dataset: str, preds_csv: Path, y: list[float]) -> float | None:
    """Spearman(conformer std, |error|) over the scored test rows.

    For a classification dataset the prediction is the probability and the error |p - y|.
    """
    with open(preds_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    col = pick_prediction_column(list(rows[0]), TARGETS[dataset])
    std_col = f"{col}_conformer_std"
    pairs = [
        (float(r[std_col]), abs(float(r[col]) - t))
        for r, t in zip(rows, y, strict=True)
        if r.get(col) not in ("", None) and r.get(std_col) not in ("", None)
    ]
    return spearman([p[0] for p in pairs], [p[1] for p in pairs])


def rescore(path: Path = OUT) -> int:
    """Fill a missing spread/error correlation from the run's kept prediction CSV.

    Returns the number of records filled; the file is rewritten atomically.
    """
    recs, filled = read_jsonl(path), 0
    for rec in recs:
        if rec.get("spearman_conformer_std_abs_error") is not None or rec.get("K", 0) < 2:
            continue
        run = WORK / "runs" / run_name(rec["dataset"], rec["split"], "k10", rec["seed"])
        preds = run / f"bench_test_preds_k{rec['K']}.csv"
        if not preds.is_file():
            log(f"cannot rescore {run.name} K={rec['K']}: {preds.name} is gone")
            continue
        _, y = test_rows(rec["dataset"], rec["split"])
        rec["spearman_conformer_std_abs_error"] = spread_error(rec["dataset"], preds, y)
        filled += 1
    if not filled:
        log(f"nothing to rescore in {path.name}")
        return 0
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in recs))
    os.replace(tmp, path)
    log(f"rescored {filled} records in {path.name}")
    return filled


def run_k(dataset: str, split: str, seed: int, k: int) -> dict | None:
    """Predict the test set of the k10 run (dataset, split, seed) with K=k; return the record."""
    run_dir = WORK / "runs" / run_name(dataset, split, "k10", seed)
    inp = run_dir / "bench_test_input.csv"
    if not (run_dir / "model").is_dir() or not inp.exists():
        log(f"skip {run_dir.name} K={k}: no model/ or test input (run accuracy.py first)")
        return None
    out = run_dir / f"bench_test_preds_k{k}.csv"
    cmd = [*predict_command(run_dir, inp, out), "--num-conformers", str(k)]
    pr = timed(cmd, WORK / f"{run_dir.name}.predict_k{k}.log")
    if pr["rc"] != 0:
        log(f"FAILED predict {run_dir.name} K={k}; see its predict_k{k}.log")
        return None
    _, y = test_rows(dataset, split)
    rec = {
        "dataset": dataset,
        "split": split,
        "trained_setup": "k10",
        "seed": seed,
        "K": k,
        "predict_wall_s": pr["wall_s"],
        "predict_other_cpu_s": pr["other_cpu_s"],
    }
    rec.update(score_predictions(dataset, out, y))
    rec["spearman_conformer_std_abs_error"] = spread_error(dataset, out, y)
    rec.update({"command": " ".join(cmd), "machine": machine()})
    append_jsonl(OUT, rec)
    scores = {x: rec.get(x) for x in ("test_rmse", "test_roc_auc") if x in rec}
    log(f"done {run_dir.name} K={k}: {json.dumps(scores)}")
    return rec


def main(argv: list[str] | None = None) -> int:
    """Run the missing (dataset, seed, K) predictions."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--split", default="scaffold")
    ap.add_argument("--ks", nargs="+", type=int, default=[1, 3, 10, 20])
    ap.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    ap.add_argument("--rescore", action="store_true", help="fill missing spread correlations")
    args = ap.parse_args(argv)
    print(f"command: {command_line()}", flush=True)
    if args.rescore:
        rescore()
        return 0
    failures = 0
    for ds in args.datasets:
        for seed in args.seeds:
            for k in args.ks:
                have = {(r["dataset"], r["split"], r["seed"], r["K"]) for r in read_jsonl(OUT)}
                name = f"{run_name(ds, args.split, 'k10', seed)}_infer_k{k}"
                if (ds, args.split, seed, k) in have or not claim(name):
                    continue
                try:
                    if run_k(ds, args.split, seed, k) is None:
                        failures += 1
                finally:
                    release(name)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
