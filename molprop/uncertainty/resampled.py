"""The scores of :mod:`molprop.uncertainty.evaluation` on many bootstrap replicates at once.

A bootstrap interval evaluates one score on a thousand resamples of the same molecules;
calling the one-molecule-set functions in a Python loop costs most of the time of a
benchmark table and of a run's ``metrics.json``. Each function here takes ``[B, n]`` arrays
(``B`` replicates of ``n`` molecules, no NaN) and returns the ``B`` scores, computing the
same definition as its counterpart (named in :data:`ROWS`): ``tests/test_unc_resampled.py``
compares the two on random replicates with ties. The definitions and their documentation
stay in :mod:`molprop.uncertainty.evaluation` and :mod:`molprop.metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.stats import norm, rankdata

from molprop.uncertainty.evaluation import COVERAGE_GRID, DEFAULT_BINS

RowScore = Callable[..., np.ndarray]


def _f64(*arrays) -> list[np.ndarray]:
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def _rms(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(x**2, axis=-1))


def gaussian_nll(y, mu, sigma) -> np.ndarray:
    """:func:`~molprop.uncertainty.evaluation.gaussian_nll` per row. ``[B, n] -> [B]``."""
    y, mu, sigma = _f64(y, mu, sigma)
    return np.mean(0.5 * np.log(2 * np.pi * sigma**2) + (y - mu) ** 2 / (2 * sigma**2), axis=-1)


def miscalibration_area(y, mu, sigma, grid=COVERAGE_GRID) -> np.ndarray:
    """:func:`~molprop.uncertainty.evaluation.miscalibration_area` per row."""
    y, mu, sigma = _f64(y, mu, sigma)
    needed = 2 * norm.cdf(np.abs(y - mu) / sigma) - 1  # [B, n]
    expected = np.asarray(grid, dtype=np.float64)
    # observed[b, g]: share of molecules with needed <= p_g (the searchsorted of the original)
    observed = np.stack([np.mean(needed <= p + 1e-12, axis=-1) for p in expected], axis=-1)
    gap = np.abs(observed - expected)
    return np.sum((gap[:, 1:] + gap[:, :-1]) / 2 * np.diff(expected), axis=-1)


def _sorted_by_sigma(y, mu, sigma) -> tuple[np.ndarray, np.ndarray]:
    """``(sigma, error)`` of each row in ascending ``sigma`` (stable, as the originals)."""
    order = np.argsort(sigma, axis=-1, kind="stable")
    return np.take_along_axis(sigma, order, -1), np.take_along_axis(y - mu, order, -1)


def ence(y, mu, sigma, bins: int = DEFAULT_BINS) -> np.ndarray:
    """:func:`~molprop.uncertainty.evaluation.ence` per row (the same equal-count bins)."""
    y, mu, sigma = _f64(y, mu, sigma)
    sig, err = _sorted_by_sigma(y, mu, sigma)
    groups = np.array_split(np.arange(sig.shape[-1]), min(bins, sig.shape[-1]))
    rmv = np.stack([_rms(sig[:, g]) for g in groups], axis=-1)  # [B, bins]
    rmse = np.stack([_rms(err[:, g]) for g in groups], axis=-1)
    return np.mean(np.abs(rmv - rmse) / rmv, axis=-1)


def spearman_sigma_error(y, mu, sigma) -> np.ndarray:
    """:func:`~molprop.uncertainty.evaluation.spearman_sigma_error` per row (NaN alike)."""
    y, mu, sigma = _f64(y, mu, sigma)
    error = np.abs(y - mu)
    a = rankdata(sigma, axis=-1)
    b = rankdata(error, axis=-1)
    a -= a.mean(-1, keepdims=True)
    b -= b.mean(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.sum(a * b, -1) / np.sqrt(np.sum(a * a, -1) * np.sum(b * b, -1))
    constant = (np.ptp(sigma, axis=-1) == 0) | (np.ptp(error, axis=-1) == 0)
    return np.where(constant | (error.shape[-1] < 3), np.nan, rho)


def top_half_ratio(y, mu, sigma) -> np.ndarray:
    """:func:`~molprop.uncertainty.evaluation.top_half_ratio` per row."""
    y, mu, sigma = _f64(y, mu, sigma)
    _, err = _sorted_by_sigma(y, mu, sigma)
    half = max(1, math.ceil(0.5 * err.shape[-1] - 1e-9))
    everything = _rms(err)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(everything > 0, _rms(err[:, :half]) / everything, np.nan)


def interval_coverage(y, lower, upper) -> np.ndarray:
    """:func:`~molprop.uncertainty.evaluation.interval_coverage` per row."""
    y, lower, upper = _f64(y, lower, upper)
    return np.mean((y >= lower) & (y <= upper), axis=-1)


def mean_interval_width(lower, upper) -> np.ndarray:
    """:func:`~molprop.uncertainty.evaluation.mean_interval_width` per row."""
    lower, upper = _f64(lower, upper)
    return np.mean(upper - lower, axis=-1)


def width_at_coverage(y, lower, upper, coverage: float = 0.9) -> np.ndarray:
    """:func:`~molprop.uncertainty.evaluation.width_at_coverage` per row."""
    y, lower, upper = _f64(y, lower, upper)
    bounded = np.all(np.isfinite(lower) & np.isfinite(upper), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        offset = np.abs(y - (upper + lower) / 2)
        need = np.where(offset == 0, 0.0, offset / ((upper - lower) / 2))
        k = max(1, math.ceil(coverage * y.shape[-1] - 1e-9))
        width = np.sort(need, axis=-1)[:, k - 1] * np.mean(upper - lower, axis=-1)
    return np.where(bounded, width, np.nan)


def brier_score(y, prob) -> np.ndarray:
    """:func:`~molprop.uncertainty.evaluation.brier_score` per row."""
    y, prob = _f64(y, prob)
    return np.mean((prob - y) ** 2, axis=-1)


def expected_calibration_error(y, prob, bins: int = DEFAULT_BINS) -> np.ndarray:
    """:func:`~molprop.uncertainty.evaluation.expected_calibration_error` per row."""
    y, prob = _f64(y, prob)
    which = np.clip(np.floor(prob * bins).astype(int), 0, bins - 1)
    # n_j |mean(y)_j - mean(p)_j| = |sum(y)_j - sum(p)_j|; empty bins add 0
    onehot = which[..., None] == np.arange(bins)  # [B, n, bins]
    gaps = np.abs(np.sum(onehot * (y - prob)[..., None], axis=-2))
    return np.sum(gaps, axis=-1) / y.shape[-1]


def rmse(y, pred) -> np.ndarray:
    """Compute the ``rmse`` of :func:`molprop.metrics.task_metric` per row (float64, no NaN)."""
    y, pred = _f64(y, pred)
    return _rms(pred - y)


def roc_auc(y, pred) -> np.ndarray:
    """Compute the ``roc_auc`` of :func:`molprop.metrics.task_metric` per row; NaN for one class.

    The trapezoidal area under the ROC curve equals the Mann-Whitney statistic with ties
    counted one half; the scores are ranked in float32, as the torchmetrics original sees them.
    """
    labels = np.round(np.asarray(y, dtype=np.float64))
    ranks = rankdata(np.asarray(pred, dtype=np.float32), axis=-1)
    pos = labels.sum(-1)
    neg = labels.shape[-1] - pos
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (np.sum(ranks * labels, -1) - pos * (pos + 1) / 2) / (pos * neg)
    return np.where((pos > 0) & (neg > 0), auc, np.nan)


#: Score name (of :data:`molprop.uncertainty.report.REGRESSION_SCORES`,
#: :data:`~molprop.uncertainty.report.CLASSIFICATION_SCORES` and the test metrics ``rmse``,
#: ``roc_auc``) -> its per-row form, taking the same columns.
ROWS: dict[str, RowScore] = {
    "nll": gaussian_nll,
    "miscalibration_area": miscalibration_area,
    "ence": ence,
    "spearman": spearman_sigma_error,
    "top_half_ratio": top_half_ratio,
    "coverage": interval_coverage,
    "mean_width": mean_interval_width,
    "width_at_coverage": width_at_coverage,
    "brier": brier_score,
    "ece": expected_calibration_error,
    "rmse": rmse,
    "roc_auc": roc_auc,
}
