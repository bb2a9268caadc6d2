"""Uncertainty scores of a benchmark cell, computed by the app's own code for both tools.

molprop writes calibrated ``<t>_std``/``<t>_lower``/``<t>_upper``; chemprop's calibrated
outputs are read from its ``chemprop predict`` files (:func:`peer_columns`). Scores are the
app's, by name (:data:`molprop.uncertainty.report.REGRESSION_SCORES`). What each variance
part adds is measured by the app itself: a molprop run's ``metrics.json`` has
``uncertainty.parts``, its calibration refitted on validation for every combination of parts
(:mod:`molprop.uncertainty.parts`), which becomes the record's ``unc_variants``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from molprop.uncertainty import evaluation as ev
from molprop.uncertainty.report import REGRESSION_SCORES as SCORES

N_BOOT = 1000  # bootstrap replicates of the table intervals
DIGITS = 5


def score_all(cols: dict) -> dict:
    """Every score of :data:`SCORES` on the per-molecule ``cols`` (``y``, ``mean``, ...)."""
    return {name: fn(*(cols[c] for c in args)) for name, (fn, args) in SCORES.items()}


def arrays(**columns) -> dict:
    """Per-molecule columns, rounded, for paired comparisons from the records."""
    return {k: np.round(np.asarray(v, dtype=float), DIGITS).tolist() for k, v in columns.items()}


def molprop_scores(test: pd.DataFrame, target: str, y_test, metrics: dict) -> dict:
    """Scores of molprop's calibrated test columns and the run's variance-part variants.

    Args:
        test: predict output on the test rows.
        target: Task name (column prefix).
        y_test: Test targets ``[n_test]``.
        metrics: The run's ``metrics.json``; the scalar scores of each combination in its
            ``uncertainty.parts`` (absent for a run trained before it existed) are kept.
    """
    out = {}
    if target + "_std" in test:
        std, lower, upper = (test[target + s].to_numpy(float) for s in ("_std", "_lower", "_upper"))
        cols = dict(y=y_test, mean=test[target].to_numpy(float), std=std, lower=lower, upper=upper)
        out.update(unc=score_all(cols), unc_arrays=arrays(**cols))
    parts = metrics.get("uncertainty", {}).get("parts", {})
    out["unc_variants"] = {name: {k: v.get(k) for k in SCORES} for name, v in parts.items()}
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
