"""Scores of predicted uncertainty on held-out molecules, and a seeded bootstrap.

Each score takes 1-D arrays of one task over molecules that have a target (the multi-task
reports in :mod:`molprop.uncertainty.report` mask NaN targets first). They need only
predictions, stds, intervals or probabilities, so they score any tool's output the same way.

* Gaussian NLL: ``mean[log(2 pi s^2) / 2 + (y - mu)^2 / (2 s^2)]``; for a calibrated
  Gaussian predictor its expectation is ``mean[log(2 pi s^2) / 2] + 1/2``.
* Miscalibration area: the area between the observed coverage of centred Gaussian
  intervals ``mu +- z_{(1+p)/2} s`` and the expected coverage ``p`` over ``p`` in ``[0, 1]``
  (0 ideal, at most 1/2).
* ENCE: molecules sorted by ``s`` into equal-count bins; ``mean_j |RMV_j - RMSE_j| / RMV_j``
  with ``RMV_j`` the root mean predicted variance of bin ``j`` (0 ideal).
* Selective prediction: the RMSE of the most confident (smallest ``s``) 10 %, 20 %, ..., 100 %;
  as one number, the top-half ratio RMSE(most confident half) / RMSE(all) (below 1 when ``s``
  ranks the errors, about 1 when it does not).
* Width at matched coverage: the mean width of the intervals after widening or narrowing
  every one about its centre by one common factor, the smallest that makes them cover
  ``coverage`` of these molecules. It scores the *shape* of the intervals (which molecules
  get the wider ones) apart from their calibration, so two tools whose intervals cover
  different fractions can be compared at the same coverage; it uses the targets, so it is a
  diagnostic of held-out predictions, never a way to set an interval.
* Brier score ``mean (p - y)^2`` and ECE over equal-width probability bins,
  ``sum_j (n_j / n) |mean(y)_j - mean(p)_j|`` (the positive-class reliability gap).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy.stats import norm, rankdata

#: Expected coverages of the miscalibration area and the coverage curve.
COVERAGE_GRID = np.linspace(0.0, 1.0, 101)
#: Fractions of the most confident molecules in the selective-prediction curve.
SELECTIVE_FRACTIONS = tuple(round(0.1 * i, 1) for i in range(1, 11))
DEFAULT_BINS = 10


def _arrays(*arrays) -> list[np.ndarray]:
    return [np.asarray(a, dtype=np.float64).ravel() for a in arrays]


def _rmse(error: np.ndarray) -> float:
    return float(np.sqrt(np.mean(error**2))) if error.size else float("nan")


def gaussian_nll(y, mu, sigma) -> float:
    """Mean Gaussian negative log-likelihood of targets ``y`` under ``N(mu, sigma^2)``."""
    y, mu, sigma = _arrays(y, mu, sigma)
    return float(np.mean(0.5 * np.log(2 * np.pi * sigma**2) + (y - mu) ** 2 / (2 * sigma**2)))


def coverage_curve(y, mu, sigma, grid=COVERAGE_GRID) -> tuple[np.ndarray, np.ndarray]:
    """Compare expected and observed coverage of centred Gaussian intervals.

    Returns:
        ``(expected [G], observed [G])``: ``observed[g]`` is the fraction of molecules with
        ``|y - mu| <= z sigma``, ``z`` the ``(1 + grid[g]) / 2`` normal quantile.
    """
    y, mu, sigma = _arrays(y, mu, sigma)
    expected = np.asarray(grid, dtype=np.float64)
    z = np.abs(y - mu) / sigma
    # a molecule lies inside the interval of coverage p iff it needs 2 Phi(z) - 1 <= p
    needed = np.sort(2 * norm.cdf(z) - 1)
    observed = np.searchsorted(needed, expected + 1e-12, side="right") / max(needed.size, 1)
    return expected, observed


def miscalibration_area(y, mu, sigma, grid=COVERAGE_GRID) -> float:
    """Area between observed and expected coverage (trapezoid rule over ``grid``)."""
    expected, observed = coverage_curve(y, mu, sigma, grid)
    gap = np.abs(observed - expected)
    # trapezoid rule by hand: numpy < 2 has no np.trapezoid
    return float(np.sum((gap[1:] + gap[:-1]) / 2 * np.diff(expected)))


def error_calibration_bins(y, mu, sigma, bins: int = DEFAULT_BINS):
    """Root mean variance and RMSE per equal-count bin of molecules sorted by ``sigma``.

    Returns:
        ``(rmv [B], rmse [B])`` with ``B = min(bins, n)``.
    """
    y, mu, sigma = _arrays(y, mu, sigma)
    order = np.argsort(sigma, kind="stable")
    groups = [g for g in np.array_split(order, min(bins, len(order))) if g.size]
    rmv = np.array([math.sqrt(np.mean(sigma[g] ** 2)) for g in groups])
    rmse = np.array([_rmse(y[g] - mu[g]) for g in groups])
    return rmv, rmse


def ence(y, mu, sigma, bins: int = DEFAULT_BINS) -> float:
    """Compute the ENCE over ``bins`` equal-count bins of molecules sorted by ``sigma``."""
    rmv, rmse = error_calibration_bins(y, mu, sigma, bins)
    return float(np.mean(np.abs(rmv - rmse) / rmv)) if rmv.size else float("nan")


def spearman_sigma_error(y, mu, sigma) -> float:
    """Spearman correlation of ``sigma`` with ``|y - mu|``; NaN for < 3 points or a constant."""
    y, mu, sigma = _arrays(y, mu, sigma)
    error = np.abs(y - mu)
    if error.size < 3 or np.ptp(sigma) == 0 or np.ptp(error) == 0:
        return float("nan")
    # Pearson correlation of the average ranks: scipy's spearmanr, without its per-call
    # overhead (the bootstrap intervals call this thousands of times)
    return float(np.corrcoef(rankdata(sigma), rankdata(error))[0, 1])


def interval_coverage(y, lower, upper) -> float:
    """Fraction of targets inside ``[lower, upper]``."""
    y, lower, upper = _arrays(y, lower, upper)
    return float(np.mean((y >= lower) & (y <= upper))) if y.size else float("nan")


def mean_interval_width(lower, upper) -> float:
    """Mean of ``upper - lower``."""
    lower, upper = _arrays(lower, upper)
    return float(np.mean(upper - lower)) if lower.size else float("nan")


def width_at_coverage(y, lower, upper, coverage: float = 0.9) -> float:
    """Mean width of ``[lower, upper]`` rescaled about its centre to cover ``coverage``.

    Molecule ``i`` is covered by the rescaled interval iff ``t >= f_i = |y_i - c_i| / h_i``
    (centre ``c_i``, half width ``h_i``); the common factor ``t`` is the ``ceil(coverage n)``-th
    smallest ``f_i``, and the score is ``t`` times the mean width. NaN without molecules or with
    an unbounded interval (no factor rescales it); ``inf`` when a zero-width interval misses a
    target that the factor must reach.
    """
    y, lower, upper = _arrays(y, lower, upper)
    if not y.size or not np.all(np.isfinite(lower) & np.isfinite(upper)):
        return float("nan")
    offset = np.abs(y - (upper + lower) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):  # a target on the centre needs 0
        need = np.where(offset == 0, 0.0, offset / ((upper - lower) / 2))
    k = max(1, math.ceil(coverage * y.size - 1e-9))
    return float(np.sort(need)[k - 1] * np.mean(upper - lower))


def selective_curve(y, mu, sigma, fractions: Sequence[float] = SELECTIVE_FRACTIONS) -> np.ndarray:
    """RMSE of the most confident fraction of molecules, for each fraction.

    Molecules are ranked by ascending ``sigma`` (ties keep their order); fraction ``f`` keeps
    the first ``ceil(f n)`` (at least one).

    Returns:
        RMSE per fraction. ``[F]``.
    """
    y, mu, sigma = _arrays(y, mu, sigma)
    error = (y - mu)[np.argsort(sigma, kind="stable")]
    n = error.size
    return np.array([_rmse(error[: max(1, math.ceil(f * n - 1e-9))]) for f in fractions])


def top_half_ratio(y, mu, sigma) -> float:
    """RMSE of the most confident half (smallest ``sigma``) over the RMSE of all molecules.

    The half is the first ``ceil(n / 2)`` as in :func:`selective_curve`; NaN when every
    prediction is exact (or there are no molecules).
    """
    half, everything = selective_curve(y, mu, sigma, (0.5, 1.0))
    return float(half / everything) if everything > 0 else float("nan")


def brier_score(y, prob) -> float:
    """Mean squared difference of probabilities and 0/1 labels."""
    y, prob = _arrays(y, prob)
    return float(np.mean((prob - y) ** 2)) if y.size else float("nan")


def expected_calibration_error(y, prob, bins: int = DEFAULT_BINS) -> float:
    """Count-weighted gap between label rate and mean probability over equal-width bins."""
    y, prob = _arrays(y, prob)
    if not y.size:
        return float("nan")
    which = np.clip(np.floor(prob * bins).astype(int), 0, bins - 1)
    gaps = [
        np.sum(which == b) * abs(y[which == b].mean() - prob[which == b].mean())
        for b in range(bins)
        if np.any(which == b)
    ]
    return float(np.sum(gaps) / y.size)


def bootstrap_ci(
    statistic: Callable[..., float],
    *arrays,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    rows_statistic: Callable[..., np.ndarray] | None = None,
) -> tuple[float, float, float]:
    """Percentile bootstrap interval of ``statistic`` over molecules (rows), seeded.

    Every array is resampled with the *same* row indices, so a statistic of two methods on
    the same molecules gives the paired bootstrap of their difference, e.g.
    ``bootstrap_ci(lambda y, m, a, b: gaussian_nll(y, m, a) - gaussian_nll(y, m, b),
    y, mu, sigma_a, sigma_b)``.

    Args:
        statistic: ``statistic(*arrays) -> float`` (NaN replicates are ignored).
        *arrays: Arrays whose first dimension is the ``n`` molecules.
        n_boot: Bootstrap replicates.
        level: Interval level, e.g. 0.95.
        seed: Seed of the resampling.
        rows_statistic: The same statistic on all replicates at once (``[B, n, ...]`` arrays
            to ``[B]`` values, e.g. from :data:`molprop.uncertainty.resampled.ROWS`); the
            replicates are the same either way, only faster.

    Returns:
        ``(value on all molecules, lower, upper)``.

    Note:
        For a score whose ideal is its lower bound (miscalibration area, ENCE) resampling adds
        noise that pushes replicates up, so the interval can lie above the value on all
        molecules; compare methods with paired differences rather than by such intervals.
    """
    arrays = tuple(np.asarray(a) for a in arrays)
    n = len(arrays[0])
    rng = np.random.default_rng(seed)
    # one draw per replicate, as always: the replicates do not depend on rows_statistic
    index = np.stack([rng.integers(0, n, size=n) for _ in range(n_boot)])
    if rows_statistic is not None:
        replicates = np.asarray(rows_statistic(*(a[index] for a in arrays)), dtype=np.float64)
    else:
        replicates = np.array([statistic(*(a[i] for a in arrays)) for i in index])
    tail = 100 * (1 - level) / 2
    if np.all(np.isnan(replicates)):  # e.g. a score undefined on these molecules
        return float(statistic(*arrays)), math.nan, math.nan
    # infinite replicates (unbounded intervals of a tiny calibration set) interpolate inf - inf
    with np.errstate(invalid="ignore"):
        lower, upper = np.nanpercentile(replicates, [tail, 100 - tail])
    return float(statistic(*arrays)), float(lower), float(upper)
