"""End-of-training uncertainty: calibrate on the validation split, score the test split.

Implements the train side of :mod:`molprop.uncertainty`: per member the conformer-bagged
predictions (and, with a variance head, the bagged predicted variances) become variance
parts; the record fitted on validation goes to ``model/model.json``; the test split gets
the calibrated columns, the ``uncertainty`` section of ``metrics.json`` and
``calibration.png``. For regression the section also has ``parts``: the same calibration
refitted on validation for every combination of the available parts and scored on test
(:mod:`molprop.uncertainty.parts`), from the arrays already at hand.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from molprop.bagging import aggregate_conformers
from molprop.exceptions import InputError
from molprop.model import PropertyModel
from molprop.train import plots
from molprop.train.evaluate import ConformerPredictions, Evaluation, collect_predictions
from molprop.uncertainty import (
    CalibrationSet,
    VarianceParts,
    calibrate_classification,
    calibrate_regression,
    classification_report,
    parts_from_aggregated,
    regression_report,
    resolve_components,
)
from molprop.uncertainty.columns import calibrated_columns
from molprop.uncertainty.config import UncertaintyConfig
from molprop.uncertainty.domain import smiles_fingerprints, train_distance
from molprop.uncertainty.parts import part_calibrations, parts_report
from molprop.uncertainty.plots import calibration_plot
from molprop.uncertainty.record import CALIBRATED_SUFFIX, LOWER_SUFFIX, STD_SUFFIX, UPPER_SUFFIX

log = logging.getLogger(__name__)


def uncertainty_config(cfg: DictConfig) -> UncertaintyConfig:
    """Build the run's typed ``uncertainty`` settings (defaults when the group is absent)."""
    node = cfg.get("uncertainty")
    return UncertaintyConfig.from_dict(
        None if node is None else OmegaConf.to_container(node, resolve=True)
    )


def check_uncertainty(cfg: DictConfig, task: str, variance_head: bool) -> UncertaintyConfig:
    """Check, before training, that the run can estimate what ``uncertainty`` asks for.

    Raises:
        InputError: For an invalid group, a variance head on a classification task, or
            ``components`` naming a part this run will not have (ensemble needs M > 1, mve
            ``model.variance_head=true``).
    """
    config = uncertainty_config(cfg)
    if variance_head and task != "regression":
        raise InputError(
            f"model.variance_head=true needs a regression task, the data is {task}; a "
            "classifier's probability p already gives the variance p (1 - p)"
        )
    if task == "regression":
        available = ["conformer", "distance"]
        available += ["ensemble"] if int(cfg.ensemble.size) > 1 else []
        available += ["mve"] if variance_head else []
        resolve_components(config.components, available)
    return config


def training_fingerprints(dm: Any) -> np.ndarray | None:
    """Packed fingerprints of the training molecules (``None`` without a SMILES table)."""
    canonical, split = getattr(dm, "canonical", None), getattr(dm, "split", None)
    if canonical is None or not split or not len(split.get("train", ())):
        return None
    return smiles_fingerprints([canonical[int(r)] for r in split["train"]])[0]


def split_distance(dm: Any, rows: torch.Tensor, train: np.ndarray | None) -> np.ndarray | None:
    """Training-set distance of the molecules at table ``rows`` (``None`` without ``train``)."""
    if train is None:
        return None
    packed, valid = smiles_fingerprints([dm.canonical[int(r)] for r in rows.tolist()])
    return train_distance(packed, train, valid)


@torch.no_grad()
def collect_member(
    model: PropertyModel, loader: Iterable, device: str | torch.device = "cpu"
) -> tuple[ConformerPredictions, torch.Tensor | None]:
    """Per-conformer predictions of one member and, with a variance head, its variances.

    Returns:
        ``(predictions, variance)``; ``variance`` is ``[B, T]`` in target units, or
        ``None`` for a model without a variance head.
    """
    if not model.variance_head:
        return collect_predictions(model, loader, device), None
    model = model.to(device).eval()
    chunks = []
    for batch in loader:  # one pass gives both outputs
        batch = batch.to(device)
        pred, var = model.predict_with_variance(batch)
        y = batch.y.reshape(pred.shape).float().cpu()
        chunks.append((pred.float().cpu(), var.float().cpu(), y, batch.mol_idx, batch.conf_idx))
    if not chunks:
        t = len(model.task_names)
        empty, index = torch.zeros(0, t), torch.zeros(0, dtype=torch.long)
        return ConformerPredictions(empty, empty, index, index), empty
    pred, var, y, mol, conf = (torch.cat(c) for c in zip(*chunks, strict=True))
    return ConformerPredictions(pred, y, mol.long().cpu(), conf.long().cpu()), var


def member_parts(
    preds: Sequence[ConformerPredictions],
    variances: Sequence[torch.Tensor | None],
    aggregate: str,
) -> VarianceParts:
    """Variance parts of the ensemble from its members' per-conformer outputs."""
    members = [aggregate_conformers(p.pred, p.mol_idx, aggregate) for p in preds]
    bagged_var = None
    if all(v is not None for v in variances):
        bagged_var = [
            aggregate_conformers(v, p.mol_idx, "mean")
            for p, v in zip(preds, variances, strict=True)
        ]
    return parts_from_aggregated(members, bagged_var)


@dataclass
class UncertaintyResult:
    """What :func:`calibrate_and_score` gives ``write_outputs``.

    Attributes:
        record: The calibration stored in ``model/`` (``None`` when it could not be fitted).
        metrics: The ``uncertainty`` section of ``metrics.json``.
        columns: Calibrated test-split columns by name, rows as ``test.ensemble.mol_idx``.
    """

    record: CalibrationSet | None
    metrics: dict[str, Any]
    columns: dict[str, np.ndarray] = field(default_factory=dict)


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.double().cpu().numpy()


def _fit(config, task, names, val: Evaluation, parts: VarianceParts | None) -> CalibrationSet:
    target, pred = _numpy(val.target), _numpy(val.ensemble.prediction)
    if task == "classification":
        return calibrate_classification(pred, target, names, config.method)
    components = resolve_components(config.components, parts.available())
    std = np.sqrt(parts.total(components))
    return calibrate_regression(
        pred, std, target, names, components, config.coverage, config.floor_fraction,
        parts.distances(components),
    )  # fmt: skip


def calibrate_and_score(
    cfg: DictConfig,
    task: str,
    names: Sequence[str],
    val: Evaluation,
    test: Evaluation,
    parts: dict[str, VarianceParts | None],
    plot_path: Path,
) -> UncertaintyResult:
    """Fit the calibration on validation, apply it to test, score it and plot it.

    Args:
        cfg: The run's config (``uncertainty`` group).
        task: ``"regression"`` or ``"classification"``.
        names: The task names.
        val: Evaluation of the validation split.
        test: Evaluation of the test split.
        parts: ``{"val": ..., "test": ...}`` variance parts (regression; ``None`` otherwise).
        plot_path: Where ``calibration.png`` goes (regression with test molecules).

    Returns:
        The record, the metrics section (regression: with ``parts``, the test scores of each
        combination of variance parts calibrated alone) and the test columns. A calibration
        that cannot be fitted (e.g. fewer than two validation molecules) is logged and
        reported in the section as ``skipped``; the run's other outputs are still written.
    """
    config = uncertainty_config(cfg)
    names = list(names)
    try:
        record = _fit(config, task, names, val, parts["val"])
    except InputError as err:
        log.warning("uncertainty calibration skipped: %s", err)
        return UncertaintyResult(None, {"skipped": str(err)})
    pred, target = _numpy(test.ensemble.prediction), _numpy(test.target)
    columns = calibrated_columns(record, pred, parts["test"])
    metrics: dict[str, Any] = {"method": record.method, "components": list(record.components)}

    def stack(suffix: str) -> np.ndarray:
        return np.stack([columns[name + suffix] for name in names], axis=1)

    if task == "classification":
        calibrated = stack(CALIBRATED_SUFFIX)
        metrics["test"] = {
            "raw": classification_report(target, pred, names, n_boot=config.bootstrap),
            "calibrated": classification_report(target, calibrated, names, n_boot=config.bootstrap),
        }
        return UncertaintyResult(record, metrics, columns)
    std, lower, upper = stack(STD_SUFFIX), stack(LOWER_SUFFIX), stack(UPPER_SUFFIX)
    metrics["coverage"] = config.coverage
    for cal in record.tasks:
        if config.coverage > cal.max_coverage:
            log.warning(
                "task %r: %d validation molecules cannot guarantee coverage %g with a finite "
                "interval (at most %.3g); its bounds are infinite",
                cal.task,
                len(cal.scores),
                config.coverage,
                cal.max_coverage,
            )
    metrics["scale"] = {cal.task: cal.scale for cal in record.tasks}
    if record.uses_distance:
        metrics["distance_weight"] = {cal.task: cal.distance_weight for cal in record.tasks}
    metrics["test"] = regression_report(
        target, pred, std, names, lower, upper, n_boot=config.bootstrap
    )
    fits = part_calibrations(
        _numpy(val.ensemble.prediction),
        _numpy(val.target),
        parts["val"],
        names,
        config.coverage,
        config.floor_fraction,
    )
    metrics["parts"] = parts_report(fits, pred, target, parts["test"])
    if len(target):
        calibration_plot(
            target,
            pred,
            std,
            names,
            plot_path,
            lower,
            upper,
            config.coverage,
            max_tasks=plots.MAX_PANELS,  # read at call time, like the parity plot
        )
    return UncertaintyResult(record, metrics, columns)
