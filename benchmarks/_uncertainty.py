"""Uncertainty scores of a benchmark cell, computed by the app's own code for both tools.

molprop writes calibrated ``<t>_std``/``<t>_lower``/``<t>_upper`` and the raw parts
(``_conformer_std``, ``_ensemble_std``, ``_mve_std``); chemprop's calibrated outputs are read
from its ``chemprop predict`` files (:func:`peer_columns`). Scores are the app's
(:mod:`molprop.uncertainty.evaluation`, :data:`SCORES`); the variants refit the app's
z-scaling + conformal calibration (:func:`molprop.uncertainty.calibration.fit_calibration`)
on the validation predictions for each combination of variance parts, to measure what each
part adds.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from molprop.uncertainty import evaluation as ev
from molprop.uncertainty.calibration import fit_calibration

PARTS = {"conformer": "_conformer_std", "ensemble": "_ensemble_std", "mve": "_mve_std"}
N_BOOT = 1000  # bootstrap replicates of the table intervals
DIGITS = 5


def _top_half_ratio(y, mean, std) -> float:
    """RMSE of the most confident half over the RMSE of all (selective prediction)."""
    curve = ev.selective_curve(y, mean, std, (0.5, 1.0))
    return float(curve[0] / curve[1])


#: Score name -> (function, the ``unc_arrays`` columns it takes), for the tables.
SCORES = {
    "coverage": (ev.interval_coverage, ("y", "lower", "upper")),
    "mean_width": (ev.mean_interval_width, ("lower", "upper")),
    "nll": (ev.gaussian_nll, ("y", "mean", "std")),
    "miscalibration_area": (ev.miscalibration_area, ("y", "mean", "std")),
    "ence": (ev.ence, ("y", "mean", "std")),
    "spearman": (ev.spearman_sigma_error, ("y", "mean", "std")),
    "top_half_ratio": (_top_half_ratio, ("y", "mean", "std")),
}


def score_all(cols: dict) -> dict:
    """Every score of :data:`SCORES` on the per-molecule ``cols`` (``y``, ``mean``, ...)."""
    return {name: fn(*(cols[c] for c in args)) for name, (fn, args) in SCORES.items()}


def arrays(**columns) -> dict:
    """Per-molecule columns, rounded, for paired comparisons from the records."""
    return {k: np.round(np.asarray(v, dtype=float), DIGITS).tolist() for k, v in columns.items()}


def molprop_scores(val: pd.DataFrame, test: pd.DataFrame, target: str, y_val, y_test) -> dict:
    """Scores of molprop's calibrated columns and of each refitted variance-part variant.

    Args:
        val: predict output on the validation rows.
        test: predict output on the test rows.
        target: Task name (column prefix).
        y_val: Validation targets ``[n_val]``.
        y_test: Test targets ``[n_test]``.
    """
    mean, out = test[target].to_numpy(float), {}
    if target + "_std" in test:
        std, lower, upper = (test[target + s].to_numpy(float) for s in ("_std", "_lower", "_upper"))
        cols = dict(y=y_test, mean=mean, std=std, lower=lower, upper=upper)
        out.update(unc=score_all(cols), unc_arrays=arrays(**cols))
    present = [name for name, suffix in PARTS.items() if target + suffix in test]
    variants = {}
    for size in range(1, len(present) + 1):
        for combo in itertools.combinations(present, size):
            std_v, std_t = (
                np.sqrt(sum(f[target + PARTS[p]].to_numpy(float) ** 2 for p in combo))
                for f in (val, test)
            )
            cal = fit_calibration(val[target].to_numpy(float), std_v, y_val, target)
            std, lower, upper = cal.apply(mean, std_t)
            cols = dict(y=y_test, mean=mean, std=std, lower=lower, upper=upper)
            variants["+".join(combo)] = score_all(cols)
    out["unc_variants"] = variants
    return out


def peer_columns(zscaled: pd.DataFrame, conformal: pd.DataFrame, target: str) -> tuple:
    """(mean, std, lower, upper) of chemprop's ``ensemble`` + ``zscaling`` and conformal runs.

    With ``--calibration-method zscaling`` chemprop's ``<t>_unc`` is the calibrated variance;
    with ``conformal-regression`` it is the interval's half width around the prediction.
    """
    mean = zscaled[target].to_numpy(float)
    half = conformal[target + "_unc"].to_numpy(float)
    centre = conformal[target].to_numpy(float)
    return mean, np.sqrt(zscaled[target + "_unc"].to_numpy(float)), centre - half, centre + half


def seed_mean_ci(records: list[dict], score: str, peer: list[dict] | None = None) -> tuple:
    """Mean of ``score`` over seeds with a bootstrap 95% interval over test molecules.

    Every replicate draws one set of molecule indices and applies it to every seed's
    ``unc_arrays`` (same test rows in split order), so the interval is that of the seed
    mean. With ``peer`` records (same seeds), the statistic is the paired difference
    ``mean(records) - mean(peer)``.

    Returns:
        ``(value, lower, upper)``.
    """
    fn, cols = SCORES[score]
    # one [n, seeds] array per column: a replicate resamples the rows of all of them at once
    mine = [np.stack([r["unc_arrays"][c] for r in records], 1) for c in cols]
    other = [np.stack([r["unc_arrays"][c] for r in peer], 1) for c in cols] if peer else []

    def stat(*arrays):
        def mean(a):
            return np.mean([fn(*(x[:, s] for x in a)) for s in range(a[0].shape[1])])

        return mean(arrays[: len(cols)]) - (mean(arrays[len(cols) :]) if peer else 0.0)

    return ev.bootstrap_ci(stat, *mine, *other, n_boot=N_BOOT)
