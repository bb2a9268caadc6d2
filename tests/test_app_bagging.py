"""Unit tests of conformer/ensemble aggregation, metrics and the masked loss."""

import math

import numpy as np
import pytest
import torch

from molprop.bagging import (
    aggregate_conformers,
    aggregate_ensemble,
    molecule_targets,
    select_conformer,
)
from molprop.lit.losses import masked_loss
from molprop.metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    compute_metrics,
    spread_error_spearman,
    task_metric,
    to_json_safe,
)

PREDS = torch.tensor([[1.0], [3.0], [2.0], [10.0], [5.0], [6.0]])
MOL = torch.tensor([2, 2, 0, 5, 5, 5])
CONF = torch.tensor([1, 0, 0, 2, 0, 1])


def test_mean_and_std_per_molecule():
    agg = aggregate_conformers(PREDS, MOL, "mean")
    assert agg.mol_idx.tolist() == [0, 2, 5]
    assert agg.prediction[:, 0].tolist() == pytest.approx([2.0, 2.0, 7.0])
    expected_std = torch.tensor([10.0, 5.0, 6.0]).std(correction=0).item()
    assert agg.conformer_std[:, 0].tolist() == pytest.approx([0.0, 1.0, expected_std])
    assert agg.num_conformers.tolist() == [1, 2, 3]
    assert agg.ensemble_std is None


def test_median_interpolates_even_counts():
    agg = aggregate_conformers(PREDS, MOL, "median")
    assert agg.prediction[:, 0].tolist() == pytest.approx([2.0, 2.0, 6.0])


def test_order_of_rows_does_not_matter():
    perm = torch.randperm(PREDS.shape[0], generator=torch.Generator().manual_seed(0))
    a = aggregate_conformers(PREDS, MOL)
    b = aggregate_conformers(PREDS[perm], MOL[perm])
    assert torch.allclose(a.prediction, b.prediction)
    assert torch.equal(a.mol_idx, b.mol_idx)


def test_multitask_and_unknown_method():
    preds = torch.stack([PREDS[:, 0], -PREDS[:, 0]], dim=1)
    agg = aggregate_conformers(preds, MOL)
    assert agg.prediction.shape == (3, 2)
    assert torch.allclose(agg.prediction[:, 1], -agg.prediction[:, 0])
    with pytest.raises(ValueError, match="bagging.aggregate"):
        aggregate_conformers(preds, MOL, "mode")


def test_select_conformer_takes_lowest_index():
    single = select_conformer(PREDS, MOL, CONF)
    assert single.mol_idx.tolist() == [0, 2, 5]
    assert single.prediction[:, 0].tolist() == [2.0, 3.0, 5.0]


def test_ensemble_mean_and_spread():
    a = aggregate_conformers(PREDS, MOL)
    b = aggregate_conformers(PREDS + 2.0, MOL)
    ens = aggregate_ensemble([a, b])
    assert torch.allclose(ens.prediction, a.prediction + 1.0)
    assert torch.allclose(ens.ensemble_std, torch.ones_like(ens.prediction))
    assert aggregate_ensemble([a]).ensemble_std is None
    other = aggregate_conformers(PREDS[:2], MOL[:2])
    with pytest.raises(ValueError, match="different molecules"):
        aggregate_ensemble([a, other])


def test_molecule_targets_aligned():
    y = torch.tensor([[1.0], [1.0], [0.0], [7.0], [7.0], [7.0]])
    agg = aggregate_conformers(PREDS, MOL)
    assert molecule_targets(y, MOL, agg.mol_idx)[:, 0].tolist() == [0.0, 1.0, 7.0]


def test_metrics_are_per_task_and_skip_nan_targets():
    pred = torch.tensor([[1.0, 0.0], [2.0, 1.0], [3.0, 5.0]])
    target = torch.tensor([[1.0, float("nan")], [2.0, 1.0], [5.0, 3.0]])
    out = compute_metrics(pred, target, "regression", ["a", "b"])
    assert out["rmse/a"] == pytest.approx(math.sqrt(4 / 3))
    assert out["rmse/b"] == pytest.approx(math.sqrt(2))
    assert out["rmse"] == pytest.approx((out["rmse/a"] + out["rmse/b"]) / 2)
    assert {"mae", "r2", "mae/a", "r2/b"} <= out.keys()


def test_classification_metrics_single_class_is_nan():
    pred = torch.tensor([[0.9, 0.2], [0.1, 0.3], [0.8, 0.4]])
    target = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, float("nan")]])
    out = compute_metrics(pred, target, "classification", ["a", "b"])
    assert out["roc_auc/a"] == 1.0 and math.isnan(out["roc_auc/b"])
    assert out["roc_auc"] == 1.0
    assert out["accuracy/b"] == 1.0
    assert to_json_safe({"x": {"y": float("nan")}}) == {"x": {"y": None}}


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_one_metric_of_one_task_is_what_compute_metrics_reports(task):
    rng = np.random.default_rng(3)
    pred = rng.uniform(size=40)
    target = (
        rng.integers(0, 2, 40).astype(float) if task == "classification" else rng.normal(size=40)
    )
    target[[2, 7]] = np.nan
    full = compute_metrics(
        torch.as_tensor(pred).reshape(-1, 1), torch.as_tensor(target).reshape(-1, 1), task, ["t"]
    )
    names = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    for name in names:
        assert task_metric(name, pred, target) == full[name]
    if task == "classification":  # one class left: ROC-AUC undefined, as in compute_metrics
        assert math.isnan(task_metric("roc_auc", pred[:5], np.zeros(5)))


def test_spearman_of_spread_and_error():
    pred = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    target = torch.tensor([[1.1], [2.5], [4.0], [float("nan")]])
    spread = torch.tensor([[0.1], [0.4], [0.9], [5.0]])
    assert spread_error_spearman(pred, spread, target) == pytest.approx(1.0)
    assert math.isnan(spread_error_spearman(pred, None, target))


def test_masked_loss_ignores_missing_targets():
    raw = torch.tensor([[0.5, 3.0], [1.0, -2.0]], requires_grad=True)
    target = torch.tensor([[0.0, float("nan")], [1.0, float("nan")]])
    for name in ("mse", "smooth_l1", "bce"):
        loss = masked_loss(raw, target, name)
        assert torch.isfinite(loss)
        (grad,) = torch.autograd.grad(loss, raw)
        assert torch.all(grad[:, 1] == 0)
    assert masked_loss(raw, target, "mse").item() == pytest.approx(0.125)
    empty = masked_loss(raw, torch.full_like(raw, float("nan")), "mse")
    assert empty.item() == 0.0 and empty.requires_grad
