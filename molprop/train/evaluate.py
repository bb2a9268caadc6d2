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
    result: Evaluation, task_names: Sequence[str], smiles: pd.Series | None = None
) -> pd.DataFrame:
    """One row per test molecule: targets, bagged predictions, spreads, single-conformer values.

    Args:
        result: Output of :func:`evaluate`.
        task_names: The task names.
        smiles: Input SMILES indexed by input row, or ``None``.

    Returns:
        DataFrame with ``row``, ``smiles``, and per task ``<task>`` (target), ``<task>_pred``,
        ``<task>_conformer_std``, ``<task>_ensemble_std`` (M > 1), ``<task>_single_conformer``;
        plus ``num_conformers``.
    """
    ens = result.ensemble
    rows = ens.mol_idx.cpu().numpy()
    frame = pd.DataFrame({"row": rows})
    if smiles is not None:
        frame["smiles"] = smiles.reindex(rows).to_numpy()
    for t, name in enumerate(task_names):
        frame[name] = result.target[:, t].numpy()
        frame[f"{name}_pred"] = ens.prediction[:, t].numpy()
        frame[f"{name}_conformer_std"] = ens.conformer_std[:, t].numpy()
        if ens.ensemble_std is not None:
            frame[f"{name}_ensemble_std"] = ens.ensemble_std[:, t].numpy()
        frame[f"{name}_single_conformer"] = result.single.prediction[:, t].numpy()
    frame["num_conformers"] = ens.num_conformers.cpu().numpy()
    return frame
