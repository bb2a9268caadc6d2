"""Uncertainty scores of a benchmark cell, computed by the app's own code for both tools.

molprop writes calibrated ``<t>_std``/``<t>_lower``/``<t>_upper`` and the raw parts
(``_conformer_std``, ``_ensemble_std``, ``_mve_std``); chemprop's calibrated outputs are read
from its ``chemprop predict`` files (:func:`peer_columns`). Scores come from
:func:`molprop.uncertainty.report.regression_report`; the variants refit the app's
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
from molprop.uncertainty.report import regression_report

PARTS = {"conformer": "_conformer_std", "ensemble": "_ensemble_std", "mve": "_mve_std"}
N_BOOT = 1000
DIGITS = 5


def scores(y, mean, std, lower=None, upper=None, n_boot: int = N_BOOT) -> dict:
    """``regression_report`` of one task with bootstrap 95% intervals (arrays ``[n]``)."""
    col = [None if a is None else np.asarray(a, dtype=float)[:, None] for a in (lower, upper)]
    arrays = [np.asarray(a, dtype=float)[:, None] for a in (y, mean, std)]
    return regression_report(*arrays, ["y"], col[0], col[1], n_boot=n_boot)


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
        cols = [test[target + s].to_numpy(float) for s in ("_std", "_lower", "_upper")]
        out["unc"] = scores(y_test, mean, *cols)
        out["unc_arrays"] = arrays(y=y_test, mean=mean, std=cols[0], lower=cols[1], upper=cols[2])
    present = [name for name, suffix in PARTS.items() if target + suffix in test]
    variants = {}
    for size in range(1, len(present) + 1):
        for combo in itertools.combinations(present, size):
            std_v, std_t = (
                np.sqrt(sum(f[target + PARTS[p]].to_numpy(float) ** 2 for p in combo))
                for f in (val, test)
            )
            cal = fit_calibration(val[target].to_numpy(float), std_v, y_val, target)
            std_cal, lower, upper = cal.apply(mean, std_t)
            variants["+".join(combo)] = scores(y_test, mean, std_cal, lower, upper)
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
    sets = [[np.asarray(r["unc_arrays"][c]) for c in cols] for r in records]
    other = [[np.asarray(r["unc_arrays"][c]) for c in cols] for r in peer or []]

    def stat(index):
        value = np.mean([fn(*(a[index] for a in s)) for s in sets])
        return value - np.mean([fn(*(a[index] for a in s)) for s in other]) if other else value

    n = len(sets[0][0])
    rng = np.random.default_rng(0)
    reps = [stat(rng.integers(0, n, size=n)) for _ in range(N_BOOT)]
    lower, upper = np.nanpercentile(reps, [2.5, 97.5])
    return float(stat(np.arange(n))), float(lower), float(upper)


def _ci(value: float, lower: float, upper: float, digits: int) -> str:
    return f"{value:.{digits}f} [{lower:.{digits}f}, {upper:.{digits}f}]"


def uncertainty_rows(select, spec: dict) -> tuple[list[str], list[list]]:
    """Header and rows of an uncertainty table (``kind: uncertainty`` in tables.yaml).

    One row per dataset and setup: each score's seed mean with its bootstrap 95% interval
    (:func:`seed_mean_ci`), or with ``paired: true`` the difference from ``spec["peer"]``
    on the seeds both have. ``select(dataset=..., split=..., setup=...)`` gives records.
    """
    head = ["dataset", "setup", "seeds", *spec["scores"]]
    rows = []
    for ds in spec["datasets"]:
        peer = {r["seed"]: r for r in select(dataset=ds, split=spec["split"], setup=spec["peer"])}
        for setup, label in spec["setups"].items():
            recs = {r["seed"]: r for r in select(dataset=ds, split=spec["split"], setup=setup)}
            seeds = sorted(set(recs) & set(peer)) if spec.get("paired") else sorted(recs)
            if not seeds or (spec.get("paired") and setup == spec["peer"]):
                continue
            other = [peer[s] for s in seeds] if spec.get("paired") else None
            cells = [
                _ci(*seed_mean_ci([recs[s] for s in seeds], name, other), spec.get("digits", 3))
                for name in spec["scores"]
            ]
            rows.append([ds, label, ", ".join(map(str, seeds)), *cells])
    return head, rows


def variant_rows(select, spec: dict) -> tuple[list[str], list[list]]:
    """Header and rows of the variance-part table: per dataset and variant, mean ± sample std
    over seeds of each score of the refitted calibrations (``unc_variants``)."""
    head, rows = ["dataset", "variance parts", "seeds", *spec["scores"]], []
    for ds in spec["datasets"]:
        recs = select(dataset=ds, split=spec["split"], setup=spec["setup"])
        for variant in dict.fromkeys(v for r in recs for v in r.get("unc_variants", {})):
            per = [r["unc_variants"][variant] for r in recs if variant in r.get("unc_variants", {})]
            cells = []
            for name in spec["scores"]:
                vals = np.array([p[name] for p in per])
                spread = f" ± {vals.std(ddof=1):.3f}" if len(vals) > 1 else ""
                cells.append(f"{vals.mean():.3f}{spread}")
            rows.append([ds, variant, len(per), *cells])
    return head, rows
