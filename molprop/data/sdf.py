"""Reading SDF input: coordinates as they are, records sharing ``_Name`` are one molecule."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from rdkit import Chem
from rdkit.rdBase import BlockLogs

from molprop.chem.molecules import canonical_smiles
from molprop.data.csvfile import check_utf8
from molprop.data.tables import MolTable, check_file, finish_table
from molprop.exceptions import InputError


def read_sdf(
    path: str | Path,
    target_columns: Sequence[str] | str | None = None,
    task: str | None = None,
    *,
    require_targets: bool = False,
) -> MolTable:
    """Read an SDF: one conformer per record, records with the same ``_Name`` grouped.

    Records with an empty ``_Name`` are separate molecules. The SD tags of a molecule are
    those of its first record. Hydrogens missing from the file are added with
    coordinates (``Chem.AddHs(addCoords=True)``); the given coordinates are not changed.

    Args:
        path: The SDF file.
        target_columns: SD tags holding targets; default every numeric tag.
        task: As in :func:`molprop.data.io.read_table`.
        require_targets: Raise when no target tag is found.

    Returns:
        A :class:`MolTable` with one row per molecule (columns ``_Name``, ``smiles`` and
        the SD tags) and ``structures``/``errors`` set.
    """
    path = Path(path)
    check_file(path, "an SDF file with at least one record")
    check_utf8(path, f"Input file '{path}'")  # RDKit would raise UnicodeDecodeError on names
    groups: dict[str, list[int]] = {}
    records: list[tuple[Chem.Mol | None, str, dict]] = []
    with BlockLogs():
        supplier = Chem.SDMolSupplier(str(path), removeHs=False, sanitize=True)
        for i in range(len(supplier)):
            mol = supplier[i]
            if mol is None:
                text = supplier.GetItemText(i)
                name = text.splitlines()[0].strip() if text.strip() else ""
                tags = {}
            else:
                name = mol.GetProp("_Name").strip() if mol.HasProp("_Name") else ""
                tags = {k: str(v) for k, v in mol.GetPropsAsDict(False, False).items()}
            records.append((mol, name, tags))
            groups.setdefault(name if name else f"\0{i}", []).append(i)
    if not records:
        raise InputError(f"Input file '{path}' has no SDF records; expected at least one molecule")
    rows, structures, errors = [], [], []
    for members in groups.values():
        mol, error = _combine(path, [records[i][0] for i in members], members)
        first = records[members[0]]
        smiles = canonical_smiles(Chem.RemoveHs(mol)) if mol is not None else ""
        rows.append({"_Name": first[1], "smiles": smiles, **first[2]})
        structures.append(mol)
        errors.append(error)
    frame = pd.DataFrame(rows).fillna("").astype(str)
    frame.index = pd.RangeIndex(len(frame), name="row")
    first_record = {r: members[0] + 1 for r, members in enumerate(groups.values())}

    def locate(row: int) -> str:
        return f"record {first_record[row]} (_Name '{frame['_Name'].iloc[row]}')"

    candidates = [c for c in frame.columns if c not in ("_Name", "smiles")]
    table = finish_table(
        path, frame, "smiles", candidates, target_columns, task, locate, "SD tag", require_targets
    )
    table.structures = structures
    table.errors = errors
    return table


def _combine(path: Path, mols: list[Chem.Mol | None], members: list[int]):
    """One molecule carrying every record's coordinates as a conformer."""
    if any(m is None for m in mols):
        bad = members[[m is None for m in mols].index(True)] + 1
        return None, f"invalid SDF record {bad} in '{path}': RDKit could not read it"
    if mols[0].GetNumAtoms() == 0:
        return None, f"SDF record {members[0] + 1} in '{path}' has no atoms"
    base = Chem.Mol(mols[0])
    elements = [a.GetAtomicNum() for a in base.GetAtoms()]
    for mol, index in zip(mols[1:], members[1:], strict=True):
        if [a.GetAtomicNum() for a in mol.GetAtoms()] != elements:
            return None, (
                f"SDF record {index + 1} in '{path}' has the same _Name as record "
                f"{members[0] + 1} but different atoms; expected conformers of one molecule"
            )
        base.AddConformer(Chem.Conformer(mol.GetConformer()), assignId=True)
    if any(a.GetTotalNumHs() for a in base.GetAtoms()):
        base = Chem.AddHs(base, addCoords=True)
    return base, None
