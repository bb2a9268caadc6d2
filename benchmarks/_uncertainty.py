"""Score both tools' calibrated uncertainty on a test set with the app's own scores.

Regression: the calibrated std and the conformal interval (``unc``: every score of
:data:`molprop.uncertainty.report.REGRESSION_SCORES`). Classification: the calibrated
probability (``unc``: :data:`~molprop.uncertainty.report.CLASSIFICATION_SCORES`, Brier score
and ECE) and the same scores of the uncalibrated probability (``unc_raw``). ``unc_arrays``
keeps the per-molecule columns, rounded, so that the tables pair seeds and tools molecule by
molecule.

The peer (chemprop 2.3.1) is calibrated on the cell's validation rows (``val.csv`` of its kept
directory): regression through its own CLI (``--calibration-method zscaling`` and
``conformal-regression``); classification by molprop's Platt/isotonic fit on its validation
probabilities, because its CLI computes calibrated probabilities but does not write them
(``chemprop/cli/predict.py``, ``save_predictions``: no ``_unc`` columns for
``--uncertainty-method classification``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from benchmarks._common import DIGITS, REPO, log, timed
from molprop.uncertainty.probability import fit_probability_calibration
from molprop.uncertainty.record import CALIBRATED_SUFFIX, LOWER_SUFFIX, STD_SUFFIX, UPPER_SUFFIX
from molprop.uncertainty.report import CLASSIFICATION_SCORES, REGRESSION_SCORES

#: The app's default probability calibration, used for the peer too.
PROBABILITY_METHOD = yaml.safe_load((REPO / "conf" / "uncertainty" / "default.yaml").read_text())[
    "method"
]


def _scored(scores: dict, cols: dict) -> dict:
    return {name: fn(*(cols[c] for c in args)) for name, (fn, args) in scores.items()}


def _arrays(cols: dict) -> dict:
    return {k: np.round(v, DIGITS).tolist() for k, v in cols.items()}


def unc_fields(y, mean, std, lower, upper) -> dict:
    """Regression: the app's scores (``unc``) and the rounded columns (``unc_arrays``).

    Args:
        y, mean, std, lower, upper: Target, prediction, calibrated std, interval bounds. ``[n]``.
    """
    cols = dict(y=y, mean=mean, std=std, lower=lower, upper=upper)
    cols = {k: np.asarray(v, dtype=float) for k, v in cols.items()}
    return {"unc": _scored(REGRESSION_SCORES, cols), "unc_arrays": _arrays(cols)}


def prob_fields(y, prob, raw) -> dict:
    """Classification: Brier score and ECE of the calibrated and of the raw probability.

    Args:
        y: 0/1 labels. ``[n]``.
        prob: Calibrated probability. ``[n]``.
        raw: The same model's probability before calibration. ``[n]``.

    Returns:
        ``unc`` (scores of ``prob``), ``unc_raw`` (of ``raw``), ``unc_arrays`` (``y``, ``prob``,
        ``raw``).

    Raises:
        ValueError: When a probability is missing (a molecule without a prediction), since
            the scores would silently cover fewer molecules than the peer's.
    """
    cols = {k: np.asarray(v, dtype=float) for k, v in dict(y=y, prob=prob, raw=raw).items()}
    if missing := int(np.isnan(cols["prob"]).sum() + np.isnan(cols["raw"]).sum()):
        raise ValueError(f"{missing} missing probabilities among {len(cols['y'])} test rows")
    return {
        "unc": _scored(CLASSIFICATION_SCORES, cols),
        "unc_raw": _scored(CLASSIFICATION_SCORES, {**cols, "prob": cols["raw"]}),
        "unc_arrays": _arrays(cols),
    }


def unc_variants(run: Path) -> dict:
    """Scores per combination of variance parts, from the run's ``metrics.json`` (or ``{}``)."""
    parts = json.loads((run / "metrics.json").read_text()).get("uncertainty", {}).get("parts", {})
    return {name: {k: v.get(k) for k in REGRESSION_SCORES} for name, v in parts.items()}


def molprop_unc(preds: pd.DataFrame, truth: pd.Series, target: str) -> dict:
    """Fields of a molprop predict output that has calibrated columns (else ``{}``)."""
    # a classification run writes <task>_std too (of the probability): intervals mark regression
    if target + STD_SUFFIX in preds and target + LOWER_SUFFIX in preds:
        cols = [preds[target + s] for s in ("", STD_SUFFIX, LOWER_SUFFIX, UPPER_SUFFIX)]
        return unc_fields(truth, *cols)
    if target + CALIBRATED_SUFFIX in preds:
        return prob_fields(truth, preds[target + CALIBRATED_SUFFIX], preds[target])
    return {}


def _chemprop_predict(chemprop: Path, keep: Path, test: Path, out: Path, extra: list) -> list:
    """The ``chemprop predict`` command of the kept models on ``test`` into ``out``."""
    cmd = [str(chemprop), "predict", "--test-path", str(test), "--smiles-columns", "smiles"]
    cmd += ["--model-paths", *map(str, sorted(keep.rglob("best.pt"))), "--preds-path", str(out)]
    return cmd + extra


def peer_unc(keep: Path, truth: pd.Series, target: str, task: str, chemprop: Path) -> tuple:
    """Calibrate the peer's kept ensemble on ``keep/val.csv`` and score it on the test rows.

    Returns:
        ``(fields, commands)``; ``fields`` is None when a chemprop command failed.
    """
    runs = {}
    if task == "regression":
        for method in ("zscaling", "conformal-regression"):
            extra = ["--cal-path", str(keep / "val.csv"), "--uncertainty-method", "ensemble"]
            extra += ["--calibration-method", method, "--conformal-alpha", "0.1"]
            runs[method] = (keep / "test_smiles.csv", keep / f"preds_{method}.csv", extra)
    else:  # the ensemble's validation probabilities, for the same calibration as molprop's
        runs["val"] = (keep / "val.csv", keep / "preds_val.csv", [])
    commands = []
    for name, (test, out, extra) in runs.items():
        commands.append(cmd := _chemprop_predict(chemprop, keep, test, out, extra))
        if timed(cmd, keep.parent / f"{keep.name}.{name}.log")["rc"] != 0:
            log(f"FAILED chemprop predict ({name}) for {keep.name}")
            return None, commands
    if task == "regression":
        zscaled, conformal = (pd.read_csv(runs[m][1]) for m in ("zscaling", "conformal-regression"))
        std = np.sqrt(zscaled[target + "_unc"])  # zscaling: <t>_unc is the calibrated variance
        half, centre = conformal[target + "_unc"], conformal[target]  # conformal: a half width
        return unc_fields(truth, zscaled[target], std, centre - half, centre + half), commands
    # predict writes its prediction over the input's target column: labels from val.csv itself
    val_label = pd.read_csv(keep / "val.csv")[target]
    val_prob = pd.read_csv(runs["val"][1])[target]
    cal = fit_probability_calibration(val_prob, val_label, target, PROBABILITY_METHOD)
    raw = pd.read_csv(keep / "preds.csv")[target]
    return {**prob_fields(truth, cal.apply(raw), raw), "unc_calibration": cal.to_dict()}, commands
