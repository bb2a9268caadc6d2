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

    Each record is named ``row<R>_conf<k>`` and carries the SD tags ``row`` (input row
    index), ``conf_idx``, ``energy`` (kcal/mol, empty when not optimised), ``method`` and
    ``smiles`` (canonical isomeric).

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
                    mol.SetProp("_Name", f"row{row}_conf{k}")
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
