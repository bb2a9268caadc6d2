"""Parsing and standardising molecules (RDKit only).

The canonical isomeric SMILES returned by :func:`prepare_smiles` is the identity of a
molecule everywhere downstream: it keys the conformer cache, seeds the embedding and
defines the atom order of the cached coordinates (the molecule is re-parsed from it).
"""

from __future__ import annotations

import hashlib

from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold
from rdkit.rdBase import BlockLogs


class MoleculeError(ValueError):
    """A SMILES string could not be turned into a molecule; the message is the reason."""


def _largest_fragment(mol: Chem.Mol) -> Chem.Mol:
    """Keep the fragment with the most heavy atoms (ties: most atoms, then first)."""
    if len(Chem.GetMolFrags(mol)) <= 1:
        return mol
    frags = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=True)
    best = max(
        range(len(frags)),
        key=lambda i: (frags[i].GetNumHeavyAtoms(), frags[i].GetNumAtoms(), -i),
    )
    return frags[best]


def parse_smiles(smiles: str, largest_fragment: bool = True) -> Chem.Mol:
    """Parse and sanitise a SMILES string, keeping the stereochemistry as written.

    Args:
        smiles: The SMILES string.
        largest_fragment: Keep only the largest fragment (strips salts and solvents).

    Returns:
        The sanitised molecule without explicit hydrogens.

    Raises:
        MoleculeError: With a human-readable reason ("invalid SMILES: ...").
    """
    if not isinstance(smiles, str) or not smiles.strip():
        raise MoleculeError("invalid SMILES: empty value")
    with BlockLogs():
        mol = Chem.MolFromSmiles(smiles.strip())  # sanitised, hydrogens removed
        if mol is None:
            raise MoleculeError(_diagnose(smiles))
    if mol.GetNumAtoms() == 0:
        raise MoleculeError(f"invalid SMILES: '{smiles}' has no atoms")
    return _largest_fragment(mol) if largest_fragment else mol


def _diagnose(smiles: str) -> str:
    """Reason why RDKit rejects a SMILES (parse or sanitisation error)."""
    mol = Chem.MolFromSmiles(smiles.strip(), sanitize=False)
    if mol is None:
        return f"invalid SMILES: RDKit could not parse '{smiles}'"
    try:
        Chem.SanitizeMol(mol)
    except Exception as exc:  # RDKit raises several sanitisation exception types
        return f"invalid SMILES: '{smiles}': {exc}"
    return f"invalid SMILES: RDKit could not read '{smiles}'"


def canonical_smiles(mol: Chem.Mol) -> str:
    """Canonical isomeric SMILES of a molecule."""
    return Chem.MolToSmiles(mol, isomericSmiles=True, canonical=True)


def prepare_smiles(smiles: str, largest_fragment: bool = True) -> str:
    """Parse a SMILES string and return its canonical isomeric SMILES.

    Raises:
        MoleculeError: When the SMILES cannot be parsed or sanitised.
    """
    return canonical_smiles(parse_smiles(smiles, largest_fragment))


def molecule_seed(global_seed: int, canonical: str) -> int:
    """Seed for one molecule, from the global seed and its canonical SMILES.

    The seed depends only on the molecule and the global seed, never on its position in
    the input or on the worker that embeds it, so coordinates are reproducible.

    Returns:
        A non-negative integer below 2**31.
    """
    digest = hashlib.blake2b(f"{int(global_seed)}|{canonical}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


def scaffold_smiles(smiles: str) -> str:
    """Bemis–Murcko scaffold SMILES (without chirality); ``""`` for acyclic molecules."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return ""
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)
