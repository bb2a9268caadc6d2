"""End-to-end helpers: SMILES or SDF -> per-molecule lists of conformer graphs.

These are the entry points used for prediction; the training data module uses the same
building blocks (:func:`ensemble_graphs`), so a molecule is featurized identically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import Data

from molprop.chem.config import ConformerConfig
from molprop.chem.ensemble import ConformerEnsemble
from molprop.config import coerce
from molprop.data.config import GraphConfig
from molprop.data.conformer_jobs import build_ensembles
from molprop.data.descriptor_set import DescriptorSet
from molprop.data.featurize import MolFeaturizer
from molprop.data.keys import MOL_FEATURES


def ensemble_graphs(
    ensemble: ConformerEnsemble,
    graph_cfg: GraphConfig | dict,
    y: np.ndarray | None,
    mol_idx: int,
    max_conformers: int | None = None,
    num_tasks: int = 0,
) -> list[Data]:
    """One ``Data`` per conformer (the first ``max_conformers``, i.e. lowest energy).

    Args:
        ensemble: The molecule's conformers.
        graph_cfg: ``graph`` settings (:class:`GraphConfig` or its dict).
        y: ``[T]`` targets or ``None`` (then ``y`` is ``[1, num_tasks]`` of NaN).
        mol_idx: Row index of the molecule.
        max_conformers: Keep at most this many conformers.
        num_tasks: ``T`` when ``y`` is ``None``.
    """
    featurizer = MolFeaturizer(ensemble.mol, coerce(GraphConfig, graph_cfg).as_dict())
    if y is None:
        y = np.full(num_tasks, np.nan)
    count = len(ensemble) if max_conformers is None else min(len(ensemble), int(max_conformers))
    return [featurizer.graph(ensemble.coords[k], y, mol_idx, k) for k in range(count)]


def attach_descriptors(
    graphs: list[list[Data]],
    descriptors: DescriptorSet | None,
    smiles: Sequence[str | None],
    user: np.ndarray | None,
    cache_dir: str | None = None,
) -> None:
    """Give every conformer graph of molecule ``i`` its scaled descriptors ``mol_x [1, D]``.

    The one place that turns a molecule's SMILES (and user values) into ``mol_x`` for
    prediction, exactly as training scaled them (:class:`DescriptorSet`).

    Args:
        graphs: ``graphs[i]``: conformer graphs of molecule ``i`` (changed in place).
        descriptors: The run's descriptors, or ``None`` (nothing to attach).
        smiles: Canonical SMILES per molecule (``None`` for a failed one).
        user: User descriptor values ``[n, D_user]`` or ``None``.
        cache_dir: Cache root of the RDKit descriptors.
    """
    if descriptors is None or descriptors.dim == 0:
        return
    keep = [s if confs else None for s, confs in zip(smiles, graphs, strict=True)]
    scaled = torch.from_numpy(descriptors.scaled(keep, user, cache_dir))  # [n, D]
    for i, confs in enumerate(graphs):
        for data in confs:
            data[MOL_FEATURES] = scaled[i : i + 1].clone()


def smiles_to_graphs(
    smiles: Sequence[str],
    conformer_cfg: ConformerConfig | dict,
    graph_cfg: GraphConfig | dict,
    *,
    num_workers: int | None = None,
    cache_dir: str | None = None,
    largest_fragment: bool = True,
    targets: np.ndarray | None = None,
    mol_indices: Sequence[int] | None = None,
    progress: bool = False,
    max_conformers: int | None = None,
    descriptors: DescriptorSet | None = None,
    user_descriptors: np.ndarray | None = None,
) -> tuple[list[list[Data]], list[str | None]]:
    """Conformer graphs for SMILES strings (used by predict).

    Args:
        smiles: Input SMILES.
        conformer_cfg: ``conformers`` settings (:class:`ConformerConfig` or its dict).
        graph_cfg: ``graph`` settings (:class:`GraphConfig` or its dict).
        num_workers: Embedding processes; ``None`` = ``conformers.num_workers``.
        cache_dir: Conformer cache root or ``None``.
        largest_fragment: Keep only the largest fragment.
        targets: ``[n, T]`` targets (NaN = missing); default ``y`` is ``[1, 0]``.
        mol_indices: ``mol_idx`` of each molecule; default ``0..n-1``.
        progress: Show a progress bar while embedding.
        max_conformers: Keep the first (lowest-energy) conformers only.
        descriptors: The run's descriptors: each graph gets ``mol_x`` from the canonical
            SMILES (see :func:`attach_descriptors`).
        user_descriptors: User descriptor values ``[n, D_user]`` of these rows.

    Returns:
        ``(graphs, errors)`` with one entry per input in order; ``graphs[i]`` is ``[]``
        and ``errors[i]`` the reason ("invalid SMILES: ...", "embedding failed: ...")
        when molecule ``i`` failed.
    """
    smiles = list(smiles)
    indices = list(range(len(smiles))) if mol_indices is None else [int(i) for i in mol_indices]
    num_tasks = 0 if targets is None else int(np.asarray(targets).shape[1])
    graph_cfg = coerce(GraphConfig, graph_cfg)
    ens = build_ensembles(
        smiles,
        conformer_cfg,
        largest_fragment=largest_fragment,
        num_workers=num_workers,
        cache_dir=cache_dir,
        progress=progress,
    )
    graphs: list[list[Data]] = []
    for i, ensemble in enumerate(ens.ensembles):
        if ensemble is None:
            graphs.append([])
            continue
        y = None if targets is None else np.asarray(targets, dtype=float)[i]
        graphs.append(
            ensemble_graphs(ensemble, graph_cfg, y, indices[i], max_conformers, num_tasks)
        )
    attach_descriptors(graphs, descriptors, ens.canonical, user_descriptors, cache_dir)
    return graphs, list(ens.errors)


def structure_ensemble(mol, smiles: str) -> ConformerEnsemble:
    """Wrap a molecule with conformers (e.g. read from an SDF) as an ensemble."""
    coords = np.stack([c.GetPositions() for c in mol.GetConformers()]).astype(np.float64)
    bare = type(mol)(mol)
    bare.RemoveAllConformers()
    return ConformerEnsemble(
        smiles, bare, coords, np.full(len(coords), np.nan), len(coords), "none"
    )


def sdf_to_graphs(
    path: str | Path,
    graph_cfg: GraphConfig | dict,
    target_columns: Sequence[str] | None = None,
    descriptors: DescriptorSet | None = None,
) -> tuple[pd.DataFrame, list[list[Data]], list[str | None]]:
    """Conformer graphs from an SDF, using its coordinates as they are.

    Records sharing ``_Name`` are conformers of one molecule.

    Args:
        path: The SDF file.
        graph_cfg: ``graph`` settings (:class:`GraphConfig` or its dict).
        target_columns: SD tags used as ``y``; default none (``y`` is ``[1, 0]``).
        descriptors: The run's descriptors: rdkit2d from each record's SMILES, user
            descriptors from the SD tags of the same names.

    Returns:
        ``(records, graphs, errors)``: one row per molecule (``_Name``, ``smiles``, SD tags),
        its graphs (``[]`` when it failed) and the failure reason or ``None``.
    """
    from molprop.data.sdf import read_sdf

    table = read_sdf(path, target_columns if target_columns is not None else [])
    graph_cfg = coerce(GraphConfig, graph_cfg)
    graphs: list[list[Data]] = []
    for row, mol in enumerate(table.structures):
        if mol is None:
            graphs.append([])
            continue
        ensemble = structure_ensemble(mol, table.frame["smiles"].iloc[row])
        graphs.append(ensemble_graphs(ensemble, graph_cfg, table.targets[row], row))
    if descriptors is not None:
        user = descriptors.user_values(table.frame, path)
        attach_descriptors(graphs, descriptors, list(table.frame["smiles"]), user)
    return table.frame, graphs, list(table.errors)
