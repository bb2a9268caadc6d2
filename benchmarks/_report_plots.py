"""PNG plots for report.py (matplotlib, Agg backend)."""

from __future__ import annotations

import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from _common import CLASSIFICATION, DATASETS  # noqa: E402

SERIES = (
    ("chemprop", None),
    ("molprop K=1", "k1"),
    ("molprop K=10", "k10"),
    ("molprop K=10×3", "k10_ens3"),
)


def _vals(records: list[dict], ds: str, split: str, setup: str | None) -> list[float]:
    key = "test_roc_auc" if ds in CLASSIFICATION else "test_rmse"
    rs = [
        r
        for r in records
        if r["dataset"] == ds and r["split"] == split and (setup is None or r.get("setup") == setup)
    ]
    return [float(r[key]) for r in rs if r.get(key) is not None]


def _ms(v: list[float]) -> tuple[float, float]:
    return statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0


def accuracy_plot(chem: list[dict], mp: list[dict], split: str, outdir: Path) -> Path | None:
    """One panel per dataset: bars of mean test metric with std error bars; dots per seed."""
    panels = [
        ds
        for ds in DATASETS
        if _vals(chem, ds, split, None) or any(_vals(mp, ds, split, s) for _, s in SERIES[1:])
    ]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.4), squeeze=False)
    for ax, ds in zip(axes[0], panels, strict=True):
        for i, (_lab, setup) in enumerate(SERIES):
            v = _vals(chem if setup is None else mp, ds, split, setup)
            if not v:
                ax.text(i, 0, "not run", rotation=90, ha="center", va="bottom", fontsize=7)
                continue
            m, s = _ms(v)
            ax.bar(i, m, yerr=s, capsize=3, color=f"C{i}", alpha=0.7)
            ax.plot([i] * len(v), v, "k.", ms=4)
        ax.set_xticks(
            range(len(SERIES)), [lab for lab, _ in SERIES], rotation=30, ha="right", fontsize=7
        )
        ax.set_title(f"{ds} ({split})", fontsize=9)
        ax.set_ylabel(
            "test ROC-AUC (higher better)" if ds in CLASSIFICATION else "test RMSE (lower better)",
            fontsize=8,
        )
    fig.tight_layout()
    path = outdir / f"accuracy_{split}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def ablation_plot(
    mp: list[dict], split: str, ks: tuple[int, ...], outdir: Path, name: str = "bagging_k"
) -> Path | None:
    """Test metric against K per dataset (mean ± std over seeds) as ``<name>_<split>.png``."""
    panels = [ds for ds in DATASETS if any(_vals(mp, ds, split, f"k{k}") for k in ks)]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 3.0), squeeze=False)
    for ax, ds in zip(axes[0], panels, strict=True):
        pts = [(k, _ms(v)) for k in ks if (v := _vals(mp, ds, split, f"k{k}"))]
        ax.errorbar(
            [k for k, _ in pts],
            [m for _, (m, _) in pts],
            yerr=[s for _, (_, s) in pts],
            marker="o",
            capsize=3,
        )
        ax.set_xscale("log")
        ax.set_xticks(list(ks), [str(k) for k in ks])
        ax.set_xlabel("conformers bagged (K)")
        ax.set_ylabel("test ROC-AUC" if ds in CLASSIFICATION else "test RMSE")
        ax.set_title(f"{ds} ({split})", fontsize=9)
    fig.tight_layout()
    path = outdir / f"{name}_{split}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
