"""Writing conformer ensembles to SDF (RDKit only)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

from rdkit import Chem

from molprop.chem.ensemble import ConformerEnsemble


def write_ensembles_sdf(path: str | Path, items: Iterable[tuple[int, ConformerEnsemble]]) -> int:
    """Write every conformer as one SDF record, atomically (temporary file, then rename).

    All K records of input row ``R`` are named ``row<R>``, so :func:`molprop.data.sdf.read_sdf`
    (and ``predict.py --input``) read them back as one molecule with K conformers. Each
    record carries the SD tags ``row`` (input row index), ``conf_idx``, ``energy``
    (kcal/mol, empty when not optimised), ``method`` and ``smiles`` (canonical isomeric);
    read back, a molecule's tags are those of its first (lowest-energy) conformer.

    Args:
        path: Output ``.sdf`` file.
        items: ``(row, ensemble)`` pairs.

    Returns:
        Number of records written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    count = 0
    try:
        with Chem.SDWriter(str(tmp)) as writer:
            for row, ensemble in items:
                mol = ensemble.to_mol()
                for k, conf in enumerate(mol.GetConformers()):
                    energy = float(ensemble.energies[k])
                    mol.SetProp("_Name", f"row{row}")
                    mol.SetIntProp("row", int(row))
                    mol.SetIntProp("conf_idx", k)
                    mol.SetProp("energy", f"{energy:.6f}" if math.isfinite(energy) else "")
                    mol.SetProp("method", ensemble.method)
                    mol.SetProp("smiles", ensemble.smiles)
                    writer.write(mol, confId=conf.GetId())
                    count += 1
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return count
