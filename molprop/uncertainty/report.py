"""Multi-task uncertainty scores for ``metrics.json``, NaN targets masked task by task.

Keys follow :func:`molprop.metrics.compute_metrics`: ``"<score>"`` is the mean over tasks and,
when ``T > 1``, ``"<score>/<task>"`` the task's value. ``selective_rmse`` is a list (one RMSE
per entry of ``selective_fractions``). With ``n_boot > 0`` every scalar score also gets a
seeded 95 % bootstrap interval ``"<score>_ci"`` (per task for ``T > 1``: ``"<score>_ci/<task>"``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from molprop.exceptions import InputError
from molprop.uncertainty import evaluation as ev

Scorer = Callable[..., float]


def _regression_scorers(with_interval: bool) -> dict[str, tuple[Scorer, tuple[int, ...]]]:
    """Score name -> (function, indices of its arguments in ``(y, mu, sigma, lo, hi)``)."""
    scorers = {
        "nll": (ev.gaussian_nll, (0, 1, 2)),
        "miscalibration_area": (ev.miscalibration_area, (0, 1, 2)),
        "ence": (ev.ence, (0, 1, 2)),
        "spearman": (ev.spearman_sigma_error, (0, 1, 2)),
    }
    if with_interval:
        scorers["coverage"] = (ev.interval_coverage, (0, 3, 4))
        scorers["mean_width"] = (ev.mean_interval_width, (3, 4))
    return scorers


def _columns(name: str, array, shape: tuple[int, int]) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    if array.shape != shape:
        raise InputError(f"{name}: received shape {array.shape}; expected {shape} like target")
    return array


def _score_tasks(scorers, columns, task_names, n_boot: int, seed: int) -> list[dict]:
    """Per-task scores on the rows whose target (column 0) is not NaN."""
    per_task = []
    for t, _ in enumerate(task_names):
        mask = ~np.isnan(columns[0][:, t])
        rows = [c[mask, t] for c in columns]
        scores: dict = {"n": int(mask.sum())}
        for name, (fn, idx) in scorers.items():
            args = [rows[i] for i in idx]
            scores[name] = fn(*args) if mask.sum() else float("nan")
            if n_boot > 0 and mask.sum() > 1:
                _, lo, hi = ev.bootstrap_ci(fn, *args, n_boot=n_boot, seed=seed)
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
        ``nll``, ``miscalibration_area``, ``ence``, ``spearman``, ``coverage``,
        ``mean_width`` (with intervals), ``selective_rmse``, ``selective_fractions``, ``n``.
    """
    target = np.asarray(target, dtype=np.float64)
    if target.ndim != 2 or target.shape[1] != len(task_names):
        raise InputError(f"target: received shape {target.shape}; expected [n, {len(task_names)}]")
    with_interval = lower is not None and upper is not None
    columns = [target] + [
        _columns(name, a, target.shape)
        for name, a in (("mean", mean), ("std", std), ("lower", lower), ("upper", upper))
        if a is not None
    ]
    per_task = _score_tasks(_regression_scorers(with_interval), columns, task_names, n_boot, seed)
    for t, scores in enumerate(per_task):
        mask = ~np.isnan(target[:, t])
        y, mu, sigma = (c[mask, t] for c in columns[:3])
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
    columns = [target, _columns("prob", prob, target.shape)]
    scorers = {
        "brier": (ev.brier_score, (0, 1)),
        "ece": (ev.expected_calibration_error, (0, 1)),
    }
    return _merge(_score_tasks(scorers, columns, task_names, n_boot, seed), task_names)
