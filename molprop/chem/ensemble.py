"""The conformer ensemble of one molecule: K coordinate sets with their energies."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rdkit import Chem
from rdkit.Geometry import Point3D


@dataclass
class ConformerEnsemble:
    """K conformers of one molecule, sorted by energy (lowest first).

    Attributes:
        smiles: Canonical isomeric SMILES (the molecule's identity and cache key).
        mol: The molecule with explicit hydrogens and no conformers; its atom order is
            the atom order of ``coords``.
        coords: Coordinates in Angstrom, shape ``[K, N, 3]``, float64.
        energies: Force-field energies in kcal/mol, shape ``[K]``, float64; NaN when the
            conformers were not optimised (then they are in embedding order).
        num_requested: The K that was asked for; ``len(self)`` may be smaller when fewer
            distinct conformers survived pruning.
        method: The force field actually used: ``"mmff"``, ``"uff"`` or ``"none"``.
    """

    smiles: str
    mol: Chem.Mol
    coords: np.ndarray
    energies: np.ndarray
    num_requested: int
    method: str

    def __len__(self) -> int:
        return int(self.coords.shape[0])

    @property
    def num_atoms(self) -> int:
        """Number of atoms ``N`` (hydrogens included)."""
        return int(self.coords.shape[1])

    def to_mol(self, max_conformers: int | None = None) -> Chem.Mol:
        """Return a copy of :attr:`mol` carrying the conformers as RDKit conformers.

        Each conformer gets the property ``energy`` (double) when it is finite.
        """
        mol = Chem.Mol(self.mol)
        mol.RemoveAllConformers()
        count = len(self) if max_conformers is None else min(max_conformers, len(self))
        for k in range(count):
            conf = Chem.Conformer(self.num_atoms)
            for i, (x, y, z) in enumerate(self.coords[k].tolist()):
                conf.SetAtomPosition(i, Point3D(x, y, z))
            conf.Set3D(True)
            if math.isfinite(self.energies[k]):
                conf.SetDoubleProp("energy", float(self.energies[k]))
            mol.AddConformer(conf, assignId=True)
        return mol
