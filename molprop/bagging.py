"""Aggregation of per-conformer predictions: over conformers, then over ensemble members.

This module is the single place where conformer predictions become molecule
predictions. Validation, test and ``predict.py`` all call :func:`aggregate_conformers`
(and :func:`aggregate_ensemble` for M > 1 models), so the numbers a user sees at
prediction time are computed exactly like the metrics reported during training.

Aggregation happens in *output space*: target units for regression (the model's
scaler already undone) and probabilities for classification.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

AGGREGATE_METHODS = ("mean", "median")


@dataclass
class Aggregated:
    """Per-molecule predictions after aggregating conformers (and possibly models).

    Attributes:
        mol_idx: Molecule (input row) indices, sorted ascending. Shape ``[M]``, long.
        prediction: Aggregated prediction per molecule. Shape ``[M, T]``.
        conformer_std: Population std over the molecule's conformers. ``[M, T]``
            (0 for a single conformer). For an ensemble, the mean over members.
        num_conformers: Number of conformers aggregated per molecule. ``[M]``, long.
        ensemble_std: Population std over ensemble members ``[M, T]``, or ``None``
            when only one model contributed.
    """

    mol_idx: torch.Tensor
    prediction: torch.Tensor
    conformer_std: torch.Tensor
    num_conformers: torch.Tensor
    ensemble_std: torch.Tensor | None = None


def _check_method(method: str) -> None:
    if method not in AGGREGATE_METHODS:
        raise ValueError(
            f"bagging.aggregate={method!r} is not supported; expected one of {AGGREGATE_METHODS}"
        )


def _group(preds: torch.Tensor, mol_idx: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Pad conformer predictions into a ``[M, K_max, T]`` tensor filled with NaN."""
    if preds.dim() == 1:
        preds = preds.unsqueeze(-1)
    if preds.shape[0] != mol_idx.shape[0]:
        raise ValueError(
            f"predictions have {preds.shape[0]} rows but mol_idx has {mol_idx.shape[0]} entries"
        )
    mol_ids, inverse, counts = torch.unique(
        mol_idx.long(), sorted=True, return_inverse=True, return_counts=True
    )
    order = torch.argsort(inverse, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    position = torch.arange(order.numel(), device=preds.device) - starts[inverse[order]]
    k_max = int(counts.max()) if counts.numel() else 0
    padded = preds.new_full((mol_ids.numel(), k_max, preds.shape[1]), float("nan"))
    padded[inverse[order], position] = preds[order].to(padded.dtype)
    return mol_ids, padded, counts


def _reduce(padded: torch.Tensor, dim: int, method: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean or (interpolated) median and population std along ``dim``, ignoring NaN padding."""
    mean = torch.nanmean(padded, dim=dim)
    centre = mean if method == "mean" else torch.nanquantile(padded, 0.5, dim=dim)
    std = torch.nanmean((padded - mean.unsqueeze(dim)) ** 2, dim=dim).sqrt()
    return centre, std


def aggregate_conformers(
    preds: torch.Tensor, mol_idx: torch.Tensor, method: str = "mean"
) -> Aggregated:
    """Aggregate per-conformer predictions into one prediction per molecule.

    Args:
        preds: Per-conformer predictions in output space. Shape ``[B, T]`` (or ``[B]``).
        mol_idx: Molecule index of each row. Shape ``[B]``.
        method: ``"mean"`` or ``"median"`` (median of an even count is the midpoint).

    Returns:
        :class:`Aggregated` with molecules sorted by ``mol_idx``.

    Raises:
        ValueError: For an unknown method or mismatched shapes.
    """
    _check_method(method)
    mol_ids, padded, counts = _group(preds.detach().float(), mol_idx)
    if mol_ids.numel() == 0:
        empty = padded.new_zeros((0, padded.shape[-1]))
        return Aggregated(mol_ids, empty, empty.clone(), counts)
    prediction, std = _reduce(padded, dim=1, method=method)
    return Aggregated(mol_ids, prediction, std, counts)


def select_conformer(
    preds: torch.Tensor, mol_idx: torch.Tensor, conf_idx: torch.Tensor
) -> Aggregated:
    """Keep one conformer per molecule: the lowest ``conf_idx`` (conformer 0, lowest energy).

    Args:
        preds: Per-conformer predictions. Shape ``[B, T]``.
        mol_idx: Molecule index of each row. Shape ``[B]``.
        conf_idx: Conformer index of each row. Shape ``[B]``.

    Returns:
        :class:`Aggregated` with ``conformer_std`` 0 and ``num_conformers`` 1.
    """
    if preds.dim() == 1:
        preds = preds.unsqueeze(-1)
    # Sort by (mol, conf) so the first row of each molecule has its lowest conformer index.
    key = mol_idx.long() * (int(conf_idx.max()) + 1 if conf_idx.numel() else 1) + conf_idx.long()
    order = torch.argsort(key, stable=True)
    mol_sorted = mol_idx[order].long()
    first = torch.ones_like(mol_sorted, dtype=torch.bool)
    first[1:] = mol_sorted[1:] != mol_sorted[:-1]
    chosen = order[first]
    prediction = preds[chosen].detach().float()
    return Aggregated(
        mol_idx.long()[chosen],
        prediction,
        torch.zeros_like(prediction),
        torch.ones(chosen.numel(), dtype=torch.long, device=preds.device),
    )


def aggregate_ensemble(members: Sequence[Aggregated], method: str = "mean") -> Aggregated:
    """Aggregate conformer-bagged predictions of several models into one per molecule.

    Args:
        members: One :class:`Aggregated` per model, each covering the same molecules.
        method: ``"mean"`` or ``"median"`` over members.

    Returns:
        :class:`Aggregated` whose ``ensemble_std`` is the std over members (``None`` for one
        member) and whose ``conformer_std`` is the members' mean conformer std.

    Raises:
        ValueError: For no members, an unknown method or members covering different molecules.
    """
    _check_method(method)
    if not members:
        raise ValueError("aggregate_ensemble needs at least one member")
    first = members[0]
    for i, member in enumerate(members[1:], start=1):
        if not torch.equal(member.mol_idx.cpu(), first.mol_idx.cpu()):
            raise ValueError(f"ensemble member {i} predicted different molecules than member 0")
    if len(members) == 1:
        return first
    stacked = torch.stack([m.prediction for m in members])  # [E, M, T]
    prediction, ensemble_std = _reduce(stacked, dim=0, method=method)
    conformer_std = torch.stack([m.conformer_std for m in members]).mean(dim=0)
    return Aggregated(first.mol_idx, prediction, conformer_std, first.num_conformers, ensemble_std)


def molecule_targets(
    targets: torch.Tensor, mol_idx: torch.Tensor, mol_ids: torch.Tensor
) -> torch.Tensor:
    """Pick one target row per molecule, aligned with ``mol_ids``.

    Args:
        targets: Per-conformer targets (identical across a molecule's conformers). ``[B, T]``.
        mol_idx: Molecule index of each row. Shape ``[B]``.
        mol_ids: Sorted molecule indices, e.g. :attr:`Aggregated.mol_idx`. Shape ``[M]``.

    Returns:
        Targets per molecule. Shape ``[M, T]``.
    """
    if targets.dim() == 1:
        targets = targets.unsqueeze(-1)
    position = torch.searchsorted(mol_ids.long(), mol_idx.long())
    out = targets.new_full((mol_ids.numel(), targets.shape[1]), float("nan"))
    out[position] = targets
    return out
