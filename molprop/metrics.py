"""Per-molecule metrics (torchmetrics) and the spread-versus-error correlation.

All functions take *aggregated* predictions (one row per molecule, see
:mod:`molprop.bagging`) in output space; NaN targets are ignored task by task.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy.stats import spearmanr
from torchmetrics.functional import (
    mean_absolute_error,
    mean_squared_error,
    r2_score,
)
from torchmetrics.functional.classification import (
    binary_accuracy,
    binary_auroc,
    binary_average_precision,
)

REGRESSION_METRICS = ("rmse", "mae", "r2")
CLASSIFICATION_METRICS = ("roc_auc", "pr_auc", "accuracy")
#: Metric monitored for checkpointing/sweeps per task type, and its optimisation mode.
MONITOR = {"regression": ("rmse", "min"), "classification": ("roc_auc", "max")}


def metric_names(task: str) -> tuple[str, ...]:
    """Metric names computed for a task type (``regression`` or ``classification``)."""
    return REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS


def _r2(pred: torch.Tensor, target: torch.Tensor) -> float:
    return float(r2_score(pred, target)) if pred.numel() > 1 else math.nan


def _auc(fn):
    """Wrap the ranking metric ``fn``: NaN unless both classes are present."""

    def metric(pred: torch.Tensor, labels: torch.Tensor) -> float:
        both = bool(labels.min() == 0 and labels.max() == 1)
        return float(fn(pred, labels)) if both else math.nan

    return metric


#: ``fn(pred [M], target [M]) -> float`` of each metric name (float32, no NaN targets;
#: classification targets as 0/1 longs).
METRIC_FNS = {
    "rmse": lambda p, t: float(mean_squared_error(p, t, squared=False)),
    "mae": lambda p, t: float(mean_absolute_error(p, t)),
    "r2": _r2,
    "roc_auc": _auc(binary_auroc),
    "pr_auc": _auc(binary_average_precision),
    "accuracy": lambda p, t: float(binary_accuracy(p, t)),
}


def _metric(name: str, pred: torch.Tensor, target: torch.Tensor) -> float:
    """Metric ``name`` on valid molecules of one task (NaN when there are none)."""
    if pred.numel() == 0:
        return math.nan
    if name in CLASSIFICATION_METRICS:
        target = target.round().long()
    return METRIC_FNS[name](pred, target)


def _task_metrics(pred: torch.Tensor, target: torch.Tensor, task: str) -> dict[str, float]:
    """Metrics of one task on valid (non-NaN target) molecules; NaN where undefined."""
    return {name: _metric(name, pred, target) for name in metric_names(task)}


def task_metric(name: str, pred: np.ndarray, target: np.ndarray) -> float:
    """One metric of one task, computed exactly as :func:`compute_metrics` computes it.

    Args:
        name: A name of :data:`REGRESSION_METRICS` or :data:`CLASSIFICATION_METRICS`.
        pred: Per-molecule predictions. Shape ``[M]``.
        target: Per-molecule targets, NaN where missing. Shape ``[M]``.
    """
    pred_t = torch.as_tensor(np.asarray(pred, dtype=np.float64)).float().reshape(-1)
    target_t = torch.as_tensor(np.asarray(target, dtype=np.float64)).float().reshape(-1)
    keep = ~torch.isnan(target_t)
    return _metric(name, pred_t[keep], target_t[keep])


def compute_metrics(
    pred: torch.Tensor, target: torch.Tensor, task: str, task_names: Sequence[str]
) -> dict[str, float]:
    """Metrics per task and their mean over tasks.

    Args:
        pred: Per-molecule predictions (target units or probabilities). Shape ``[M, T]``.
        target: Per-molecule targets, NaN where missing. Shape ``[M, T]``.
        task: ``"regression"`` or ``"classification"``.
        task_names: The ``T`` task names.

    Returns:
        ``{"rmse": mean over tasks, ...}`` plus ``"rmse/<task>"`` entries when ``T > 1``.
        Undefined values (e.g. ROC-AUC with one class) are NaN and skipped in the mean.
    """
    pred, target = pred.detach().float().cpu(), target.detach().float().cpu()
    per_task = []
    for t in range(target.shape[1]):
        mask = ~torch.isnan(target[:, t])
        per_task.append(_task_metrics(pred[mask, t], target[mask, t], task))
    out: dict[str, float] = {}
    for name in metric_names(task):
        values = [m[name] for m in per_task if not math.isnan(m[name])]
        out[name] = float(np.mean(values)) if values else float("nan")
        if len(task_names) > 1:
            for task_name, m in zip(task_names, per_task, strict=True):
                out[f"{name}/{task_name}"] = m[name]
    return out


def spread_error_spearman(
    pred: torch.Tensor, spread: torch.Tensor | None, target: torch.Tensor
) -> float:
    """Spearman correlation between a prediction's spread and its absolute error.

    Args:
        pred: Per-molecule predictions. Shape ``[M, T]``.
        spread: Per-molecule spread (conformer or ensemble std). Shape ``[M, T]`` or ``None``.
        target: Per-molecule targets, NaN where missing. Shape ``[M, T]``.

    Returns:
        The correlation over all valid (molecule, task) pairs; NaN when undefined
        (no spread, fewer than 3 pairs or a constant input).
    """
    if spread is None:
        return float("nan")
    mask = ~torch.isnan(target)
    error = (pred - target).abs()[mask].cpu().numpy()
    s = spread[mask].detach().cpu().numpy()
    if error.size < 3 or np.ptp(s) == 0 or np.ptp(error) == 0:
        return float("nan")
    return float(spearmanr(s, error).statistic)


def to_json_safe(values: dict) -> dict:
    """Replace NaN/inf floats by ``None`` recursively so the dict is strict JSON."""
    out = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out[key] = to_json_safe(value)
        elif isinstance(value, float) and not math.isfinite(value):
            out[key] = None
        else:
            out[key] = value
    return out


def monitor_for(monitor: dict, task: str) -> tuple[str, str]:
    """Return the monitored metric and mode: ``monitor.name/mode`` if set, else by task.

    Args:
        monitor: The ``monitor`` config (``name`` and ``mode``, either may be null).
        task: ``"regression"`` or ``"classification"``.
    """
    name, mode = MONITOR[task]
    return (monitor.get("name") or f"val/{name}", monitor.get("mode") or mode)
