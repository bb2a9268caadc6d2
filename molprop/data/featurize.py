"""Atom and bond features and radius graphs: conformers -> PyG ``Data`` objects.

Atom features (``ATOM_FEATURE_DIM`` columns, one-hot blocks unless noted):
element (H C N O F P S Cl Br I, other) | aromatic (0/1) | hybridisation (S SP SP2 SP3
SP3D SP3D2, other) | formal charge (-2..+2, other) | degree, counting hydrogens
(0..6, other) | hydrogen count (0..4, other) | in ring (0/1) | chirality tag
(unspecified, CW, CCW, other).

Edge features (``BOND_FEATURE_DIM`` columns): bond type (no bond, single, double,
triple, aromatic, other) | conjugated (0/1) | in ring (0/1). Every ordered atom pair
within ``graph.cutoff`` Angstrom is an edge (all pairs when the cutoff is ``None``);
pairs that are not bonded get the "no bond" type. ``graph.max_neighbors`` keeps, for each
target atom, only its nearest sources. Bonded pairs are always edges. Distances come
from ``torch.cdist``/``topk``; no torch-cluster. Field names and shapes follow
:mod:`molprop.data.keys`.

``graph.hydrogens``: ``explicit`` makes every hydrogen a node; ``implicit`` drops the
hydrogen nodes but keeps the heavy-atom coordinates of the H-embedded conformer.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from rdkit import Chem
from torch_geometric.data import Data

from molprop.config import coerce
from molprop.data import keys
from molprop.data.config import GraphConfig

ELEMENTS = (1, 6, 7, 8, 9, 15, 16, 17, 35, 53)
HYBRIDISATIONS = (
    Chem.HybridizationType.S,
    Chem.HybridizationType.SP,
    Chem.HybridizationType.SP2,
    Chem.HybridizationType.SP3,
    Chem.HybridizationType.SP3D,
    Chem.HybridizationType.SP3D2,
)
CHARGES = (-2, -1, 0, 1, 2)
DEGREES = (0, 1, 2, 3, 4, 5, 6)
NUM_HS = (0, 1, 2, 3, 4)
CHIRAL_TAGS = (
    Chem.ChiralType.CHI_UNSPECIFIED,
    Chem.ChiralType.CHI_TETRAHEDRAL_CW,
    Chem.ChiralType.CHI_TETRAHEDRAL_CCW,
)
BOND_TYPES = (
    Chem.BondType.SINGLE,
    Chem.BondType.DOUBLE,
    Chem.BondType.TRIPLE,
    Chem.BondType.AROMATIC,
)

#: Width of ``x``: one-hot blocks with an "other" slot, plus two flags.
ATOM_FEATURE_DIM = (
    (len(ELEMENTS) + 1)
    + 1
    + (len(HYBRIDISATIONS) + 1)
    + (len(CHARGES) + 1)
    + (len(DEGREES) + 1)
    + (len(NUM_HS) + 1)
    + 1
    + (len(CHIRAL_TAGS) + 1)
)
#: Width of ``edge_attr``: no bond + 4 bond types + other, conjugated, in ring.
BOND_FEATURE_DIM = 1 + len(BOND_TYPES) + 1 + 2


def _one_hot(value, choices) -> list[float]:
    out = [0.0] * (len(choices) + 1)
    out[choices.index(value) if value in choices else len(choices)] = 1.0
    return out


def atom_features(atom: Chem.Atom) -> list[float]:
    """Feature vector of one atom (length ``ATOM_FEATURE_DIM``)."""
    return (
        _one_hot(atom.GetAtomicNum(), ELEMENTS)
        + [float(atom.GetIsAromatic())]
        + _one_hot(atom.GetHybridization(), HYBRIDISATIONS)
        + _one_hot(atom.GetFormalCharge(), CHARGES)
        + _one_hot(atom.GetDegree(), DEGREES)
        + _one_hot(atom.GetTotalNumHs(includeNeighbors=True), NUM_HS)
        + [float(atom.IsInRing())]
        + _one_hot(atom.GetChiralTag(), CHIRAL_TAGS)
    )


class MolFeaturizer:
    """Conformer-independent features of one molecule, shared by its conformers.

    Args:
        mol: Molecule with explicit hydrogens; atom order = coordinate order.
        graph_cfg: ``graph`` settings (:class:`~molprop.data.config.GraphConfig` or its
            dict; missing keys take its defaults).
    """

    def __init__(self, mol: Chem.Mol, graph_cfg: GraphConfig | dict | None):
        self.cfg = coerce(GraphConfig, graph_cfg)
        atoms = list(mol.GetAtoms())
        if self.cfg.hydrogens == "implicit":
            keep = [a.GetIdx() for a in atoms if a.GetAtomicNum() != 1]
            if not keep:  # molecular hydrogen: keep it rather than an empty graph
                keep = [a.GetIdx() for a in atoms]
        else:
            keep = [a.GetIdx() for a in atoms]
        self.keep = np.asarray(keep, dtype=np.int64)
        self.z = torch.tensor([atoms[i].GetAtomicNum() for i in keep], dtype=torch.long)
        self.x = torch.tensor([atom_features(atoms[i]) for i in keep], dtype=torch.float32)
        self.bond_attr = self._bond_matrix(mol)
        self.bonded = self.bond_attr[:, :, 0] == 0  # [N, N] True where bonded

    def _bond_matrix(self, mol: Chem.Mol) -> torch.Tensor:
        """Dense ``[N, N, BOND_FEATURE_DIM]`` edge features over the kept atoms."""
        n = len(self.keep)
        position = {int(a): i for i, a in enumerate(self.keep)}
        attr = torch.zeros(n, n, BOND_FEATURE_DIM)
        attr[:, :, 0] = 1.0  # "no bond" unless bonded
        for bond in mol.GetBonds():
            i = position.get(bond.GetBeginAtomIdx())
            j = position.get(bond.GetEndAtomIdx())
            if i is None or j is None:
                continue
            kind = bond.GetBondType()
            vec = torch.zeros(BOND_FEATURE_DIM)
            vec[1 + BOND_TYPES.index(kind) if kind in BOND_TYPES else 1 + len(BOND_TYPES)] = 1.0
            vec[-2] = float(bond.GetIsConjugated())
            vec[-1] = float(bond.IsInRing())
            attr[i, j] = vec
            attr[j, i] = vec
        return attr

    def graph(self, coords: np.ndarray, y: np.ndarray, mol_idx: int, conf_idx: int) -> Data:
        """Build the ``Data`` of one conformer.

        Args:
            coords: ``[N_all, 3]`` coordinates of every atom (hydrogens included).
            y: ``[T]`` targets (NaN = missing).
            mol_idx: Row index of the molecule.
            conf_idx: Index of the conformer in the ensemble.
        """
        pos = torch.as_tensor(np.asarray(coords, dtype=np.float64)[self.keep], dtype=torch.float32)
        edge_index = radius_edges(pos, self.cfg.cutoff, self.cfg.max_neighbors, self.bonded)
        keys.check_edge_index(edge_index, pos.shape[0], f"molecule {mol_idx}, conformer {conf_idx}")
        src, dst = edge_index
        fields = {
            keys.ATOMIC_NUMBERS: self.z,
            keys.NODE_FEATURES: self.x,
            keys.POSITIONS: pos,
            keys.EDGE_INDEX: edge_index,
            keys.EDGE_FEATURES: self.bond_attr[src, dst],
            keys.TARGETS: torch.as_tensor(np.asarray(y, dtype=np.float32).reshape(1, -1)),
            keys.MOL_INDEX: torch.tensor([mol_idx], dtype=torch.long),
            keys.CONF_INDEX: torch.tensor([conf_idx], dtype=torch.long),
        }
        return Data(**fields)


def radius_edges(
    pos: torch.Tensor,
    cutoff: float | None = None,
    max_neighbors: int | None = None,
    always: torch.Tensor | None = None,
) -> torch.Tensor:
    """Directed edges ``(source j, target i)`` between atoms within ``cutoff``.

    Args:
        pos: ``[N, 3]`` coordinates.
        cutoff: Maximum distance in Angstrom; ``None`` connects every pair.
        max_neighbors: Keep at most this many nearest sources per target (plus ``always``).
        always: Optional ``[N, N]`` bool matrix of pairs that are always edges (bonds),
            whatever their distance or rank.

    Returns:
        ``[2, E]`` long tensor sorted by target, then by source.
    """
    n = pos.shape[0]
    dist = torch.cdist(pos.double(), pos.double())
    dist.fill_diagonal_(math.inf)
    if cutoff is not None:
        dist = dist.masked_fill(dist > cutoff, math.inf)
    mask = torch.isfinite(dist)  # [target i, source j]
    if max_neighbors is not None and max_neighbors < n - 1:
        k = max(0, min(max_neighbors, n - 1))
        nearest = dist.topk(k, dim=1, largest=False).indices
        capped = torch.zeros_like(mask)
        capped.scatter_(1, nearest, True)
        mask &= capped
    if always is not None:
        mask |= always
    target, source = mask.nonzero(as_tuple=True)
    return torch.stack([source, target]).long()
