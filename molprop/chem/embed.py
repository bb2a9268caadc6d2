"""Embedding and optimising the conformers of one molecule (runs inside a worker)."""

from __future__ import annotations

import math
import time

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdDistGeom, rdForceFieldHelpers
from rdkit.Chem.rdDistGeom import EmbedFailureCauses
from rdkit.rdBase import BlockLogs

from molprop.chem.config import ConformerConfig
from molprop.chem.ensemble import ConformerEnsemble
from molprop.chem.molecules import molecule_seed


class EmbeddingError(RuntimeError):
    """Embedding failed; ``deterministic`` is False for timeouts (never cached)."""

    def __init__(self, reason: str, deterministic: bool = True):
        super().__init__(reason)
        self.deterministic = deterministic


def embed_params(cfg: ConformerConfig, seed: int) -> rdDistGeom.EmbedParameters:
    """ETKDGv3 parameters for one molecule."""
    params = rdDistGeom.ETKDGv3()
    params.randomSeed = int(seed)
    params.numThreads = 1
    params.pruneRmsThresh = cfg.prune_rms if cfg.prune_rms > 0 else -1.0
    params.maxIterations = cfg.max_attempts
    params.trackFailures = True
    if cfg.timeout:
        params.timeout = max(1, math.ceil(cfg.timeout))
    return params


def embed_molecule(smiles: str, cfg: ConformerConfig) -> ConformerEnsemble:
    """ETKDGv3 conformers of one molecule, optimised, sorted by energy and pruned.

    Args:
        smiles: Canonical isomeric SMILES; the molecule is parsed from it and gets
            explicit hydrogens, so the atom order is that of the canonical SMILES.
        cfg: Conformer settings.

    Returns:
        The ensemble (between 1 and K conformers).

    Raises:
        EmbeddingError: "embedding failed: ..." or "embedding timed out ...".
    """
    start = time.perf_counter()
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    params = embed_params(cfg, molecule_seed(cfg.seed, smiles))
    with BlockLogs():
        cids = list(rdDistGeom.EmbedMultipleConfs(mol, cfg.pool_size, params))
        _check_timeout(params, cfg, start)
        if not cids:  # retry once from random starting coordinates
            params.useRandomCoords = True
            cids = list(rdDistGeom.EmbedMultipleConfs(mol, cfg.pool_size, params))
            _check_timeout(params, cfg, start)
    if not cids:
        raise EmbeddingError(
            f"embedding failed: ETKDGv3 produced no conformer in {cfg.max_attempts or 'default'} "
            "attempts, also from random coordinates"
        )
    energies, method = optimize_conformers(mol, cfg)
    coords = np.stack([mol.GetConformer(c).GetPositions() for c in cids]).astype(np.float64)
    if method != "none":
        order = np.argsort(energies, kind="stable")
        coords, energies = coords[order], energies[order]
        if cfg.prune_rms > 0:
            heavy = np.array([a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() > 1])
            keep = prune_by_rms(coords, heavy, cfg.prune_rms)
            coords, energies = coords[keep], energies[keep]
    mol.RemoveAllConformers()
    return ConformerEnsemble(
        smiles=smiles,
        mol=mol,
        coords=np.ascontiguousarray(coords),
        energies=np.ascontiguousarray(energies, dtype=np.float64),
        num_requested=cfg.pool_size,
        method=method,
    )


def _check_timeout(params, cfg: ConformerConfig, start: float) -> None:
    if not cfg.timeout:
        return
    counts = params.GetFailureCounts()
    cause = int(EmbedFailureCauses.EXCEEDED_TIMEOUT)
    timed_out = len(counts) > cause and counts[cause] > 0
    if timed_out or time.perf_counter() - start > cfg.timeout:
        raise EmbeddingError(
            f"embedding timed out after {cfg.timeout:g} s (conformers.timeout)",
            deterministic=False,
        )


def optimize_conformers(mol: Chem.Mol, cfg: ConformerConfig) -> tuple[np.ndarray, str]:
    """Optimise every conformer in place; MMFF falls back to UFF without parameters.

    Returns:
        Energies ``[K]`` in kcal/mol (NaN when not optimised) and the method used.
    """
    n = mol.GetNumConformers()
    if cfg.optimize == "none":
        return np.full(n, np.nan), "none"
    field = None
    method = "none"
    with BlockLogs():
        if cfg.optimize == "mmff":
            props = rdForceFieldHelpers.MMFFGetMoleculeProperties(mol)
            if props is not None:
                field = rdForceFieldHelpers.MMFFGetMoleculeForceField(mol, props)
                method = "mmff"
        if field is None and rdForceFieldHelpers.UFFHasAllMoleculeParams(mol):
            field = rdForceFieldHelpers.UFFGetMoleculeForceField(mol)
            method = "uff"
    if field is None:
        return np.full(n, np.nan), "none"
    results = rdForceFieldHelpers.OptimizeMoleculeConfs(
        mol, field, numThreads=1, maxIters=cfg.max_iters
    )
    return np.array([energy for _, energy in results], dtype=np.float64), method


def kabsch_rmsd(a: np.ndarray, b: np.ndarray) -> float:
    """RMSD of two ``[n, 3]`` point sets after optimal superposition."""
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    u, s, vt = np.linalg.svd(a.T @ b)
    if np.linalg.det(u @ vt) < 0:
        s[-1] = -s[-1]
    sq = (a * a).sum() + (b * b).sum() - 2.0 * s.sum()
    return math.sqrt(max(sq, 0.0) / len(a))


def prune_by_rms(coords: np.ndarray, atoms: np.ndarray, threshold: float) -> list[int]:
    """Prune greedily in the given (energy) order.

    A conformer is kept when it is farther than ``threshold`` from every one kept so far.

    Args:
        coords: ``[K, N, 3]`` coordinates.
        atoms: Indices of the atoms compared (heavy atoms).
        threshold: RMSD in Angstrom.

    Returns:
        Indices of the kept conformers, increasing.
    """
    if len(atoms) < 2:
        return [0]
    kept: list[int] = []
    for k in range(coords.shape[0]):
        pts = coords[k, atoms]
        if all(kabsch_rmsd(coords[j, atoms], pts) > threshold for j in kept):
            kept.append(k)
    return kept
