"""``calibration.png``: error-based calibration plot and coverage curve, one row per task."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from molprop.uncertainty import evaluation as ev  # noqa: E402


def _error_panel(ax, y, mu, sigma, bins: int) -> None:
    """RMSE against root mean predicted variance per equal-count bin of ``sigma``."""
    rmv, rmse = ev.error_calibration_bins(y, mu, sigma, bins)
    ax.plot(rmv, rmse, "o-", ms=4)
    top = float(max(rmv.max(), rmse.max())) if rmv.size else 1.0
    ax.plot([0, top], [0, top], "k--", lw=1)
    ax.set_xlabel("root mean predicted variance (RMV)")
    ax.set_ylabel("RMSE")


def _coverage_panel(ax, y, mu, sigma, interval: tuple[float, float] | None) -> None:
    """Observed vs. expected coverage of Gaussian intervals (plus the conformal point)."""
    expected, observed = ev.coverage_curve(y, mu, sigma)
    ax.plot(expected, observed, "-", label="Gaussian intervals")
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    if interval is not None:
        ax.plot([interval[0]], [interval[1]], "r*", ms=10, label="conformal")
    ax.set_xlabel("expected coverage")
    ax.set_ylabel("observed coverage")
    ax.legend(loc="upper left", fontsize=8)


def calibration_plot(
    target,
    mean,
    std,
    task_names: Sequence[str],
    path: str | Path,
    lower=None,
    upper=None,
    coverage: float | None = None,
    bins: int = ev.DEFAULT_BINS,
    max_tasks: int | None = None,
) -> Path:
    """Write the calibration figure of test predictions.

    Args:
        target: Targets, NaN where missing. ``[n, T]``.
        mean: Point predictions. ``[n, T]``.
        std: Calibrated std. ``[n, T]``.
        task_names: The ``T`` task names.
        path: Output PNG path.
        lower: Conformal lower bounds ``[n, T]`` or ``None``.
        upper: Conformal upper bounds ``[n, T]`` or ``None``.
        coverage: Nominal coverage of ``lower``/``upper`` (plotted against the observed one).
        bins: Equal-count bins of the error-based calibration plot.
        max_tasks: Draw only the first ``max_tasks`` tasks (a figure of hundreds of rows,
            e.g. a pretraining run's descriptors, takes minutes to render); ``None``: all.

    Returns:
        The written path.
    """
    target, mean, std = (np.asarray(a, dtype=np.float64) for a in (target, mean, std))
    task_names = list(task_names)[:max_tasks]
    rows = len(task_names)
    fig, axes = plt.subplots(rows, 2, figsize=(8, 3.6 * rows), squeeze=False)
    for t, name in enumerate(task_names):
        mask = ~np.isnan(target[:, t])
        y, mu, sigma = target[mask, t], mean[mask, t], std[mask, t]
        for ax in axes[t]:
            ax.set_title(f"{name} (n={int(mask.sum())})")
        if not mask.any():
            continue
        _error_panel(axes[t, 0], y, mu, sigma, bins)
        interval = None
        if lower is not None and upper is not None and coverage is not None:
            observed = ev.interval_coverage(
                y, np.asarray(lower)[mask, t], np.asarray(upper)[mask, t]
            )
            interval = (coverage, observed)
        _coverage_panel(axes[t, 1], y, mu, sigma, interval)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
