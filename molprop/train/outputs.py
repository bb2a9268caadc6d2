"""End-of-training outputs: metrics.json, test_predictions.csv, plots and ``model/``."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from typing import Any

import torch
from omegaconf import DictConfig
from tqdm.auto import tqdm

from molprop import artifacts
from molprop.atomic import write_text_atomic
from molprop.columns import INPUT_RENAME_SUFFIX, NUM_CONFORMERS_COLUMN
from molprop.config import as_dict
from molprop.lit.timing import fit_timing
from molprop.metrics import monitor_for, to_json_safe
from molprop.train import plots
from molprop.train.evaluate import evaluate, predictions_frame
from molprop.train.uncertainty import (
    UncertaintyResult,
    calibrate_and_score,
    collect_member,
    member_parts,
    split_distance,
    training_fingerprints,
)
from molprop.uncertainty.domain import save_fingerprints


def _device(members: Sequence[Any]) -> torch.device:
    try:
        return members[0].trainer.strategy.root_device
    except (AttributeError, RuntimeError):  # pragma: no cover - defensive
        return torch.device("cpu")


def _progress(loader: Any, stage: str, member: int, enabled: bool) -> Any:
    """Wrap ``loader`` in a progress bar on stderr (final evaluation can take a while)."""
    return tqdm(
        loader,
        desc=f"{stage} (member {member})",
        unit="batch",
        disable=not enabled,
        leave=False,
        mininterval=1.0,
    )


def save_model_dir(
    cfg: DictConfig,
    run: artifacts.RunDir,
    members: Sequence[Any],
    uncertainty: dict[str, Any] | None = None,
) -> None:
    """Write ``model/``: one safetensors file per member plus ``model.json``.

    The settings stored are the typed configs the datamodule used (``dm.conformer_cfg``,
    ``dm.graph_cfg``, ``dm.bagging_cfg``), so predict rebuilds exactly those;
    ``uncertainty`` is the calibration record (``CalibrationSet.to_dict()``) or ``None``.
    """
    dm = members[0].datamodule
    first = members[0].model
    for m, member in enumerate(members):
        artifacts.save_member(run.root, m, member.model)
    spec = artifacts.ModelSpec(
        task=first.task,
        task_names=list(first.task_names),
        backbone=dict(first.backbone_kwargs),
        scaler_mean=first.scaler_mean.tolist(),
        scaler_std=first.scaler_std.tolist(),
        conformers=as_dict(dm.conformer_cfg),
        graph=as_dict(dm.graph_cfg),
        bagging=as_dict(dm.bagging_cfg),
        data={
            "smiles_column": getattr(dm, "smiles_column", None),
            "largest_fragment": dm.data_cfg.largest_fragment,
        },
        num_members=len(members),
        ensemble_aggregate=str(cfg.ensemble.aggregate),
        descriptors=dm.descriptors.to_dict() if getattr(dm, "descriptors", None) else None,
        variance_head=bool(first.variance_head),
        uncertainty=uncertainty,
    )
    artifacts.save_spec(run.root, spec)


def write_outputs(cfg: DictConfig, run: artifacts.RunDir, members: Sequence[Any]) -> float:
    """Evaluate the trained members and write every end-of-run file; print where they went.

    Args:
        cfg: The run's config.
        run: The run directory.
        members: Trained :class:`molprop.train.run.Member` objects (best weights loaded).

    Returns:
        The optimised metric: monitored validation metric of the bagged ensemble.
    """
    dm = members[0].datamodule
    task, names = dm.task, list(dm.task_names)
    device = _device(members)
    aggregate = str(cfg.bagging.aggregate)
    progress = bool(cfg.trainer.enable_progress_bar)
    results, parts = {}, {}
    regression = task == "regression"
    train_fp = training_fingerprints(dm) if regression else None
    for stage, loader_fn in (("val", dm.val_dataloader), ("test", dm.test_dataloader)):
        collected = [
            collect_member(
                m.model, _progress(loader_fn(), f"evaluate {stage}", i, progress), device
            )
            for i, m in enumerate(members)
        ]
        preds = [c[0] for c in collected]
        results[stage] = evaluate(preds, task, names, aggregate)
        parts[stage] = None
        if regression:
            distance = split_distance(dm, results[stage].ensemble.mol_idx, train_fp)
            members_parts = member_parts(preds, [c[1] for c in collected], aggregate)
            parts[stage] = members_parts.with_distance(distance)
    for m in members:
        m.model.cpu()
    monitor, mode = monitor_for(cfg.monitor, task)
    short = monitor.split("/", 1)[-1]
    value = results["val"].metrics["bagged_ensemble"].get(short, float("nan"))
    metrics = {
        "task": task,
        "task_names": names,
        "num_conformers": int(cfg.bagging.num_conformers),
        "ensemble_size": len(members),
        "aggregate": aggregate,
        "optimized_metric": {"name": monitor, "mode": mode, "value": value},
        "val": results["val"].metrics,
        "test": results["test"].metrics,
        "spread_error_spearman": {"test": results["test"].spearman},
        # per member; a member trained before a resume (not fitted in this process) has 0 epochs
        "timing": {
            "model_compile": bool(cfg.model.get("compile", False)),
            "members": [fit_timing(m.trainer) for m in members],
        },
    }
    uncertainty = calibrate_and_score(
        cfg, task, names, results["val"], results["test"], parts, run.calibration_plot
    )
    metrics["uncertainty"] = uncertainty.metrics
    write_text_atomic(run.metrics, json.dumps(to_json_safe(metrics), indent=2))
    frame = predictions_frame(results["test"], names, _input_columns(dm))
    frame = _with_uncertainty(frame, uncertainty)
    write_text_atomic(run.test_predictions, frame.to_csv(index=False))
    if len(frame):
        plot = plots.parity_plot if task == "regression" else plots.roc_plot
        plot(frame, names, run.parity_plot if task == "regression" else run.roc_plot)
    plots.loss_plot(run.logs, run.loss_plot)
    record = uncertainty.record
    save_model_dir(cfg, run, members, None if record is None else record.to_dict())
    if record is not None and record.uses_distance:
        save_fingerprints(run.train_fingerprints, train_fp)
    _print_summary(run, metrics)
    return float(value) if value is not None else float("nan")


def _with_uncertainty(frame, uncertainty: UncertaintyResult):
    """Insert the calibrated test columns before ``num_conformers`` (rows already aligned).

    An input column of the same name is renamed ``<name>_input``, as for the other outputs.
    """
    clash = {c: c + INPUT_RENAME_SUFFIX for c in uncertainty.columns if c in frame.columns}
    frame = frame.rename(columns=clash)
    at = list(frame.columns).index(NUM_CONFORMERS_COLUMN)
    for offset, (name, values) in enumerate(uncertainty.columns.items()):
        frame.insert(at + offset, name, values)
    return frame


def _input_columns(dm: Any):
    """Return the SMILES and carried input columns (index = row), or ``None``."""
    table = getattr(dm, "table", None)
    smiles_col = getattr(dm, "smiles_column", None)
    if table is None or smiles_col not in table:
        return None
    carried = [c for c in getattr(dm, "carried_columns", []) if c in table]
    return table[[smiles_col, *carried]]


def _print_summary(run: artifacts.RunDir, metrics: dict[str, Any]) -> None:
    short = metrics["optimized_metric"]["name"].split("/", 1)[-1]
    test = metrics["test"]
    row = ", ".join(f"{k}={test[k].get(short, float('nan')):.4g}" for k in test)
    root = shlex.quote(str(run.root))
    print(
        f"\n[molprop] run directory: {run.root}\n"
        f"[molprop] model:   {run.model_dir}  ({metrics['ensemble_size']} member(s))\n"
        f"[molprop] metrics: {run.metrics}\n"
        f"[molprop] test {short}: {row}\n"
        f"[molprop] predict: molprop predict {root} --smiles 'CCO'\n",
        flush=True,
    )
