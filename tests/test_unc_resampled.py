"""The per-replicate scores (molprop.uncertainty.resampled) compute their originals."""

import numpy as np
import pytest

from molprop.metrics import task_metric
from molprop.uncertainty.evaluation import bootstrap_ci
from molprop.uncertainty.report import CLASSIFICATION_SCORES, REGRESSION_SCORES
from molprop.uncertainty.resampled import ROWS

ORIGINALS = {
    **{name: fn for name, (fn, _) in {**REGRESSION_SCORES, **CLASSIFICATION_SCORES}.items()},
    "rmse": lambda y, pred: task_metric("rmse", pred, y),
    "roc_auc": lambda y, pred: task_metric("roc_auc", pred, y),
}
COLUMNS = {
    **{name: cols for name, (_, cols) in {**REGRESSION_SCORES, **CLASSIFICATION_SCORES}.items()},
    "rmse": ("y", "pred"),
    "roc_auc": ("y", "pred"),
}
CLASSIFICATION = {"brier", "ece", "roc_auc"}


def _columns(rng, n: int, classification: bool) -> dict[str, np.ndarray]:
    """Columns with ties (rounded values), as real predictions and labels have."""
    if classification:
        y = (rng.random(n) < 0.4).astype(float)
        prob = np.round(np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1), 1)
        return {"y": y, "prob": prob, "pred": prob}
    y = np.round(rng.normal(size=n), 1)
    mean = y + np.round(rng.normal(scale=0.5, size=n), 1)
    std = np.round(rng.uniform(0.1, 1.0, size=n), 1)
    return {
        "y": y,
        "mean": mean,
        "pred": mean,
        "std": std,
        "lower": mean - 1.5 * std,
        "upper": mean + 1.5 * std,
    }


def test_every_score_has_a_per_row_form():
    assert set(ROWS) == set(ORIGINALS)


@pytest.mark.parametrize("name", sorted(ROWS))
@pytest.mark.parametrize("n", [2, 3, 7, 60])
def test_rows_equal_the_original_on_each_replicate(name, n):
    rng = np.random.default_rng(n)
    cols = _columns(rng, n, name in CLASSIFICATION)
    index = rng.integers(0, n, size=(200, n))  # replicates: ties, constant rows, one class
    args = [cols[c][index] for c in COLUMNS[name]]
    got = ROWS[name](*args)
    want = np.array([ORIGINALS[name](*(a[b] for a in args)) for b in range(len(index))])
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    # rmse and roc_auc: the originals compute in float32 (torchmetrics)
    tol = 1e-6 if name in ("rmse", "roc_auc") else 1e-12
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=tol, atol=tol)


def test_bootstrap_gives_the_same_interval_with_and_without_the_row_form():
    rng = np.random.default_rng(5)
    cols = _columns(rng, 80, classification=False)
    args = [cols[c] for c in ("y", "mean", "std")]
    fn, _ = REGRESSION_SCORES["spearman"]
    slow = bootstrap_ci(fn, *args, n_boot=300, seed=3)
    fast = bootstrap_ci(fn, *args, n_boot=300, seed=3, rows_statistic=ROWS["spearman"])
    assert fast == pytest.approx(slow, rel=1e-12)
    assert fast[1] < fast[0] < fast[2]
