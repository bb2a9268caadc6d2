"""Diagnostic plots of test predictions: parity (regression) or ROC curves (classification)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from torchmetrics.functional.classification import binary_roc  # noqa: E402

from molprop.columns import CONFORMER_STD_SUFFIX, prediction_column, target_column  # noqa: E402

#: Panels per figure: a many-task run (e.g. 217 pretraining descriptors) plots its first tasks
#: only; a 217-panel figure is 220 inches tall and takes minutes to render.
MAX_PANELS = 16


def _grid(n: int) -> tuple[plt.Figure, np.ndarray]:
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 4 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes.flat


def parity_plot(frame: pd.DataFrame, task_names: Sequence[str], path: str | Path) -> Path:
    """Scatter predicted vs. true values per task, with conformer-std error bars.

    Args:
        frame: ``test_predictions.csv`` content (``<task>_true``, ``<task>`` and
            ``<task>_conformer_std`` columns, see :mod:`molprop.columns`).
        task_names: Tasks to plot.
        path: Output PNG path.

    Returns:
        The written path.
    """
    task_names = list(task_names)[:MAX_PANELS]
    fig, axes = _grid(len(task_names))
    for ax, name in zip(axes, task_names, strict=False):
        true_col, pred_col, std_col = (
            target_column(name),
            prediction_column(name),
            name + CONFORMER_STD_SUFFIX,
        )
        sub = frame[[true_col, pred_col, std_col]].dropna(subset=[true_col])
        true, pred = sub[true_col].to_numpy(), sub[pred_col].to_numpy()
        ax.errorbar(
            true,
            pred,
            yerr=sub[std_col].to_numpy(),
            fmt="o",
            ms=3,
            alpha=0.6,
            elinewidth=0.8,
        )
        if len(true):
            lo, hi = float(min(true.min(), pred.min())), float(max(true.max(), pred.max()))
            ax.plot([lo, hi], [lo, hi], "k--", lw=1)
            rmse = float(np.sqrt(np.mean((true - pred) ** 2)))
            ax.set_title(f"{name} (n={len(true)}, RMSE={rmse:.3g})")
        ax.set_xlabel("true")
        ax.set_ylabel("predicted (bagged)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def roc_plot(frame: pd.DataFrame, task_names: Sequence[str], path: str | Path) -> Path:
    """ROC curve per task from bagged probabilities.

    Args:
        frame: ``test_predictions.csv`` content (``<task>_true`` labels, ``<task>`` probs).
        task_names: Tasks to plot.
        path: Output PNG path.

    Returns:
        The written path.
    """
    task_names = list(task_names)[:MAX_PANELS]
    fig, axes = _grid(len(task_names))
    for ax, name in zip(axes, task_names, strict=False):
        true_col, pred_col = target_column(name), prediction_column(name)
        sub = frame[[true_col, pred_col]].dropna(subset=[true_col])
        labels = torch.tensor(sub[true_col].to_numpy(dtype=float)).round().long()
        probs = torch.tensor(sub[pred_col].to_numpy(dtype=float)).float()
        if labels.numel() and labels.min() != labels.max():
            fpr, tpr, _ = binary_roc(probs, labels)
            ax.plot(fpr.numpy(), tpr.numpy())
        ax.plot([0, 1], [0, 1], "k--", lw=1)
        ax.set_title(f"{name} (n={len(sub)})")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def loss_plot(logs: str | Path, path: str | Path) -> Path | None:
    """Losses over epochs from the run's CSV logs (every member's ``metrics.csv``).

    Plots ``train/loss_epoch``, ``val/loss`` and the denoising losses (pretraining) per epoch.

    Args:
        logs: The run's ``logs/`` folder.
        path: Where the PNG goes.

    Returns:
        ``path``, or ``None`` when there is no CSV log (e.g. ``logger=none``).
    """
    files = sorted(Path(logs).rglob("metrics.csv"))
    if not files:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for file in files:
        frame = pd.read_csv(file)
        member = file.relative_to(logs).parts[0] if len(files) > 1 else ""
        cols = ["train/loss_epoch", "val/loss"]
        cols += [c for c in frame.columns if "denoise_loss" in c and not c.endswith("_step")]
        for col in (c for c in cols if c in frame.columns):
            per_epoch = frame.dropna(subset=[col]).groupby("epoch")[col].mean()
            ax.plot(per_epoch.index, per_epoch.values, label=f"{member} {col}".strip())
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
