"""The conformer ensemble of one molecule: K coordinate sets with their energies."""

from __future__ import annotations

import math

import numpy as np
from rdkit import Chem
from rdkit.Geometry import Point3D


class ConformerEnsemble:
    """K conformers of one molecule, sorted by energy (lowest first).

    Attributes:
        smiles: Canonical isomeric SMILES (the molecule's identity and cache key).
        mol: The molecule with explicit hydrogens and no conformers; its atom order is
            the atom order of ``coords``. It may be given as ``Mol.ToBinary()`` bytes and
            is then decoded on first access (loading from the cache stays cheap).
        coords: Coordinates in Angstrom, shape ``[K, N, 3]``, float64.
        energies: Force-field energies in kcal/mol, shape ``[K]``, float64; NaN when the
            conformers were not optimised (then they are in embedding order).
        num_requested: The K that was asked for; ``len(self)`` may be smaller when fewer
            distinct conformers survived pruning.
        method: The force field actually used: ``"mmff"``, ``"uff"`` or ``"none"``.
    """

    def __init__(
        self,
        smiles: str,
        mol: Chem.Mol | bytes,
        coords: np.ndarray,
        energies: np.ndarray,
        num_requested: int,
        method: str,
    ):
        self.smiles = smiles
        self._mol = mol
        self.coords = coords
        self.energies = energies
        self.num_requested = num_requested
        self.method = method

    @property
    def mol(self) -> Chem.Mol:
        """The molecule (explicit hydrogens, no conformers)."""
        if not isinstance(self._mol, Chem.Mol):
            self._mol = Chem.Mol(bytes(self._mol))
        return self._mol

    @property
    def mol_binary(self) -> bytes:
        """The molecule as ``Mol.ToBinary()`` bytes."""
        return self._mol.ToBinary() if isinstance(self._mol, Chem.Mol) else bytes(self._mol)

    def __getstate__(self) -> dict:
        # send the molecule as bytes between processes; decoded only where it is used
        return dict(self.__dict__, _mol=self.mol_binary)

    def __repr__(self) -> str:
        return (
            f"ConformerEnsemble({self.smiles!r}, K={len(self)}/{self.num_requested}, "
            f"N={self.num_atoms}, method={self.method!r})"
        )

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
