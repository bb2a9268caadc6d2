"""Post-training evaluation: single conformer vs. bagged over K vs. bagged over K and M."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd
import torch

from molprop.bagging import (
    Aggregated,
    aggregate_conformers,
    aggregate_ensemble,
    molecule_targets,
    select_conformer,
)
from molprop.columns import (
    CONFORMER_STD_SUFFIX,
    ENSEMBLE_STD_SUFFIX,
    NUM_CONFORMERS_COLUMN,
    ROW_COLUMN,
    SINGLE_CONFORMER_SUFFIX,
    evaluation_columns,
    join_inputs,
    prediction_column,
    target_column,
)
from molprop.metrics import compute_metrics, spread_error_spearman
from molprop.model import PropertyModel


@dataclass
class ConformerPredictions:
    """Per-conformer outputs of one model on one loader.

    Attributes:
        pred: Predictions in output space. Shape ``[B, T]``.
        y: Raw targets, NaN where missing. Shape ``[B, T]``.
        mol_idx: Molecule index per row. Shape ``[B]``.
        conf_idx: Conformer index per row. Shape ``[B]``.
    """

    pred: torch.Tensor
    y: torch.Tensor
    mol_idx: torch.Tensor
    conf_idx: torch.Tensor


@dataclass
class Evaluation:
    """Result of :func:`evaluate`."""

    metrics: dict[str, dict[str, float]]
    spearman: dict[str, dict[str, float]]
    single: Aggregated
    bagged: Aggregated
    ensemble: Aggregated
    target: torch.Tensor


@torch.no_grad()
def collect_predictions(
    model: PropertyModel, loader: Iterable, device: str | torch.device = "cpu"
) -> ConformerPredictions:
    """Run ``model`` over every batch of ``loader`` (all conformers) and concatenate."""
    model = model.to(device).eval()
    chunks = []
    for batch in loader:
        batch = batch.to(device)
        out = model.predict(batch).float().cpu()
        chunks.append(
            (
                out,
                batch.y.reshape(out.shape).float().cpu(),
                batch.mol_idx.long().cpu(),
                batch.conf_idx.long().cpu(),
            )
        )
    if not chunks:
        t = len(model.task_names)
        return ConformerPredictions(
            torch.zeros(0, t), torch.zeros(0, t), torch.zeros(0).long(), torch.zeros(0).long()
        )
    return ConformerPredictions(*[torch.cat(column) for column in zip(*chunks, strict=True)])


def evaluate(
    members: Sequence[ConformerPredictions],
    task: str,
    task_names: Sequence[str],
    aggregate: str = "mean",
) -> Evaluation:
    """Metrics of member 0 on one conformer, member 0 bagged over K, and all members bagged.

    Args:
        members: Per-conformer predictions of each ensemble member on the same loader.
        task: ``"regression"`` or ``"classification"``.
        task_names: The task names.
        aggregate: ``"mean"`` or ``"median"`` for conformers and members.

    Returns:
        The three metric dicts, spread/error Spearman correlations and the aggregates.
    """
    first = members[0]
    single = select_conformer(first.pred, first.mol_idx, first.conf_idx)
    per_member = [aggregate_conformers(m.pred, m.mol_idx, aggregate) for m in members]
    ensemble = aggregate_ensemble(per_member, aggregate)
    target = molecule_targets(first.y, first.mol_idx, per_member[0].mol_idx)
    metrics = {
        "single_conformer": compute_metrics(single.prediction, target, task, task_names),
        "bagged_conformers": compute_metrics(per_member[0].prediction, target, task, task_names),
        "bagged_ensemble": compute_metrics(ensemble.prediction, target, task, task_names),
    }
    spearman = {
        "bagged_conformers": {
            "conformer_std": spread_error_spearman(
                per_member[0].prediction, per_member[0].conformer_std, target
            )
        },
        "bagged_ensemble": {
            "conformer_std": spread_error_spearman(
                ensemble.prediction, ensemble.conformer_std, target
            ),
            "ensemble_std": spread_error_spearman(
                ensemble.prediction, ensemble.ensemble_std, target
            ),
        },
    }
    return Evaluation(metrics, spearman, single, per_member[0], ensemble, target)


def predictions_frame(
    result: Evaluation, task_names: Sequence[str], inputs: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per test molecule, in the column contract of :mod:`molprop.columns`.

    Args:
        result: Output of :func:`evaluate`.
        task_names: The task names.
        inputs: Input columns (SMILES and carried columns) indexed by input row, or ``None``.

    Returns:
        DataFrame with ``row``, the input columns (renamed ``<name>_input`` on a clash) and
        :func:`molprop.columns.evaluation_columns`: per task ``<task>_true`` (target),
        ``<task>`` (bagged prediction), ``<task>_conformer_std``, ``<task>_ensemble_std``
        (M > 1), ``<task>_single_conformer``; then ``num_conformers``.
    """
    ens = result.ensemble
    rows = ens.mol_idx.cpu().numpy()
    values: dict[str, object] = {}
    for t, name in enumerate(task_names):
        values[target_column(name)] = result.target[:, t].numpy()
        values[prediction_column(name)] = ens.prediction[:, t].numpy()
        values[name + CONFORMER_STD_SUFFIX] = ens.conformer_std[:, t].numpy()
        if ens.ensemble_std is not None:
            values[name + ENSEMBLE_STD_SUFFIX] = ens.ensemble_std[:, t].numpy()
        values[name + SINGLE_CONFORMER_SUFFIX] = result.single.prediction[:, t].numpy()
    values[NUM_CONFORMERS_COLUMN] = ens.num_conformers.cpu().numpy()
    members = 1 if ens.ensemble_std is None else 2
    out = pd.DataFrame(values, index=range(len(rows)))[evaluation_columns(task_names, members)]
    given = pd.DataFrame(index=range(len(rows))) if inputs is None else inputs.loc[rows]
    given = given.reset_index(drop=True)
    given.insert(0, ROW_COLUMN, rows)
    return join_inputs(given, out)
