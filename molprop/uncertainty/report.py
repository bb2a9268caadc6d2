"""Multi-task uncertainty scores for ``metrics.json``, NaN targets masked task by task.

Keys follow :func:`molprop.metrics.compute_metrics`: ``"<score>"`` is the mean over tasks and,
when ``T > 1``, ``"<score>/<task>"`` the task's value. ``selective_rmse`` is a list (one RMSE
per entry of ``selective_fractions``). With ``n_boot > 0`` every scalar score also gets a
seeded 95 % bootstrap interval ``"<score>_ci"`` (per task for ``T > 1``: ``"<score>_ci/<task>"``).

:data:`REGRESSION_SCORES` and :data:`CLASSIFICATION_SCORES` name every scalar score with the
per-molecule columns it takes, so that other callers (the benchmarks, which also score other
tools' outputs) compute exactly these scores by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from molprop.exceptions import InputError
from molprop.uncertainty import evaluation as ev
from molprop.uncertainty.resampled import ROWS

Scorer = Callable[..., float]

#: Regression score name -> (function, the columns it takes). Columns: ``y`` (target),
#: ``mean``, ``std`` (the predicted, usually calibrated, std), ``lower`` / ``upper`` (interval
#: bounds); a report leaves out the scores whose columns it was not given.
REGRESSION_SCORES: dict[str, tuple[Scorer, tuple[str, ...]]] = {
    "nll": (ev.gaussian_nll, ("y", "mean", "std")),
    "miscalibration_area": (ev.miscalibration_area, ("y", "mean", "std")),
    "ence": (ev.ence, ("y", "mean", "std")),
    "spearman": (ev.spearman_sigma_error, ("y", "mean", "std")),
    "top_half_ratio": (ev.top_half_ratio, ("y", "mean", "std")),
    "coverage": (ev.interval_coverage, ("y", "lower", "upper")),
    "mean_width": (ev.mean_interval_width, ("lower", "upper")),
    "width_at_coverage": (ev.width_at_coverage, ("y", "lower", "upper")),
}
#: Classification score name -> (function, the columns it takes: ``y`` 0/1, ``prob``).
CLASSIFICATION_SCORES: dict[str, tuple[Scorer, tuple[str, ...]]] = {
    "brier": (ev.brier_score, ("y", "prob")),
    "ece": (ev.expected_calibration_error, ("y", "prob")),
}


def _columns(name: str, array, shape: tuple[int, int]) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    if array.shape != shape:
        raise InputError(f"{name}: received shape {array.shape}; expected {shape} like target")
    return array


def _score_tasks(scorers, columns: dict, task_names, n_boot: int, seed: int) -> list[dict]:
    """Per-task scores (those whose columns are given) on the rows whose ``y`` is not NaN."""
    per_task = []
    for t, _ in enumerate(task_names):
        mask = ~np.isnan(columns["y"][:, t])
        rows = {key: c[mask, t] for key, c in columns.items()}
        scores: dict = {"n": int(mask.sum())}
        for name, (fn, needs) in scorers.items():
            if not set(needs) <= set(rows):
                continue
            args = [rows[c] for c in needs]
            scores[name] = fn(*args) if mask.sum() else float("nan")
            if n_boot > 0 and mask.sum() > 1:
                _, lo, hi = ev.bootstrap_ci(
                    fn, *args, n_boot=n_boot, seed=seed, rows_statistic=ROWS.get(name)
                )
                scores[f"{name}_ci"] = [lo, hi]
        per_task.append(scores)
    return per_task


def _mean(values: list) -> float:
    finite = [v for v in values if v is not None and not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _merge(per_task: list[dict], task_names: Sequence[str]) -> dict:
    """Means over tasks (NaN skipped) plus ``name/task`` entries for several tasks."""
    names = list(dict.fromkeys(name for scores in per_task for name in scores))
    single = len(per_task) == 1
    out: dict = {}
    for name in names:
        values = [scores.get(name) for scores in per_task]
        if name == "n":
            out[name] = int(sum(values))
        elif name == "selective_rmse":
            out[name] = values[0] if single else [_mean(list(v)) for v in zip(*values, strict=True)]
        elif not name.endswith("_ci"):
            out[name] = _mean(values)
        elif single:  # an interval of the mean over tasks is not computed
            out[name] = values[0]
        if not single:
            out.update(
                {
                    f"{name}/{task}": v
                    for task, v in zip(task_names, values, strict=True)
                    if v is not None
                }
            )
    return out


def regression_report(
    target,
    mean,
    std,
    task_names: Sequence[str],
    lower=None,
    upper=None,
    fractions: Sequence[float] = ev.SELECTIVE_FRACTIONS,
    n_boot: int = 0,
    seed: int = 0,
) -> dict:
    """Uncertainty scores of regression predictions.

    Args:
        target: Targets, NaN where missing. ``[n, T]``.
        mean: Point predictions. ``[n, T]``.
        std: Predicted (calibrated) std. ``[n, T]``.
        task_names: The ``T`` task names.
        lower: Interval lower bounds ``[n, T]``, or ``None`` (no coverage/width scores).
        upper: Interval upper bounds ``[n, T]``, or ``None``.
        fractions: Fractions of the selective-prediction curve.
        n_boot: Bootstrap replicates of each scalar score's interval (0: none).
        seed: Bootstrap seed.

    Returns:
        The scores of :data:`REGRESSION_SCORES` (``coverage``, ``mean_width`` and
        ``width_at_coverage`` only with both bounds), ``selective_rmse``,
        ``selective_fractions`` and ``n``.
    """
    target = np.asarray(target, dtype=np.float64)
    if target.ndim != 2 or target.shape[1] != len(task_names):
        raise InputError(f"target: received shape {target.shape}; expected [n, {len(task_names)}]")
    given = {"mean": mean, "std": std, "lower": lower, "upper": upper}
    columns = {"y": target}
    columns.update({k: _columns(k, a, target.shape) for k, a in given.items() if a is not None})
    per_task = _score_tasks(REGRESSION_SCORES, columns, task_names, n_boot, seed)
    for t, scores in enumerate(per_task):
        mask = ~np.isnan(target[:, t])
        y, mu, sigma = (columns[k][mask, t] for k in ("y", "mean", "std"))
        curve = (
            ev.selective_curve(y, mu, sigma, fractions)
            if mask.any()
            else np.full(len(fractions), np.nan)
        )
        scores["selective_rmse"] = curve.tolist()
    out = _merge(per_task, task_names)
    out["selective_fractions"] = list(fractions)
    return out


def classification_report(
    target, prob, task_names: Sequence[str], n_boot: int = 0, seed: int = 0
) -> dict:
    """Brier score and ECE of probabilities ``prob [n, T]`` against 0/1 ``target [n, T]``."""
    target = np.asarray(target, dtype=np.float64)
    if target.ndim != 2 or target.shape[1] != len(task_names):
        raise InputError(f"target: received shape {target.shape}; expected [n, {len(task_names)}]")
    columns = {"y": target, "prob": _columns("prob", prob, target.shape)}
    per_task = _score_tasks(CLASSIFICATION_SCORES, columns, task_names, n_boot, seed)
    return _merge(per_task, task_names)
