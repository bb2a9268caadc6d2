"""Test-set scoring shared by the molprop benchmark runners, in plain Python.

The same RMSE / MAE / rank ROC-AUC definitions as ``../shared/tools/chemprop_baseline.py``, so
molprop and chemprop numbers are computed alike from each tool's test-set predictions.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from _common import CLASSIFICATION, DATA_DIR, SPLITS_DIR

TARGETS = {
    "esol": "log_solubility",
    "freesolv": "hydration_free_energy",
    "lipo": "lipo",
    "bbbp": "p_np",
}


def rmse(y: list[float], p: list[float]) -> float:
    return math.sqrt(sum((a - b) ** 2 for a, b in zip(y, p, strict=True)) / len(y))


def mae(y: list[float], p: list[float]) -> float:
    return sum(abs(a - b) for a, b in zip(y, p, strict=True)) / len(y)


def average_ranks(v: list[float]) -> list[float]:
    """1-based ranks of ``v``, ties sharing their average rank."""
    order = sorted(range(len(v)), key=v.__getitem__)
    ranks = [0.0] * len(v)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def roc_auc(y: list[int], p: list[float]) -> float:
    """Rank (Mann-Whitney) ROC-AUC with average ranks for ties, as in chemprop_baseline.py."""
    ranks = average_ranks(p)
    n_pos = sum(1 for v in y if v == 1)
    n_neg = len(y) - n_pos
    if not n_pos or not n_neg:
        return float("nan")
    s = sum(r for r, v in zip(ranks, y, strict=True) if v == 1)
    return (s - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def test_rows(dataset: str, split: str) -> tuple[list[str], list[float]]:
    """SMILES and targets of the split's test rows, in split order."""
    with open(DATA_DIR / f"{dataset}.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    idx = json.loads((SPLITS_DIR / f"{dataset}.json").read_text())[split]["test"]
    return [rows[i]["smiles"] for i in idx], [float(rows[i][TARGETS[dataset]]) for i in idx]


def score_predictions(dataset: str, preds_csv: Path, y: list[float]) -> dict:
    """Score predict.py output (one row per input row, in order) against the test targets."""
    with open(preds_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if len(rows) != len(y):
        return {"score_error": f"{len(rows)} prediction rows for {len(y)} test rows"}
    col = pick_prediction_column(list(rows[0]), TARGETS[dataset])
    pairs = [
        (t, float(r[col])) for t, r in zip(y, rows, strict=True) if r.get(col) not in ("", None)
    ]
    out: dict = {"n_scored": len(pairs), "n_unpredicted": len(y) - len(pairs), "pred_column": col}
    yt, yp = [a for a, _ in pairs], [b for _, b in pairs]
    if dataset in CLASSIFICATION:
        out["test_roc_auc"] = round(roc_auc([int(v) for v in yt], yp), 4)
    else:
        out["test_rmse"], out["test_mae"] = round(rmse(yt, yp), 4), round(mae(yt, yp), 4)
    return out


def pick_prediction_column(columns: list[str], target: str) -> str:
    """The prediction column of predict.py's output for ``target``."""
    for cand in (target, f"{target}_pred", "prediction"):
        if cand in columns:
            return cand
    hits = [c for c in columns if target in c and "std" not in c and "prob" not in c]
    if hits:
        return hits[0]
    raise KeyError(f"no prediction column for {target} in {columns}")
