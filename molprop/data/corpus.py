"""A pretraining corpus: a seeded sample of a SMILES file with every labelled molecule removed.

Molecules of the labelled benchmark sets must never be seen in pretraining, so each corpus
molecule whose InChIKey *connectivity block* (the first 14 characters: the skeleton without
stereochemistry, isotopes or charge state) matches one of a labelled set is dropped. This is
stricter than matching whole InChIKeys: stereoisomers and salts of a test molecule go too.
Both sides are read the way training reads them (largest fragment kept, RDKit sanitised).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem
from rdkit.rdBase import BlockLogs

from molprop.chem.molecules import MoleculeError, canonical_smiles, parse_smiles
from molprop.exceptions import InputError

log = logging.getLogger(__name__)


def skeleton_key(smiles: str) -> str | None:
    """InChIKey connectivity block of a SMILES (largest fragment), or None when unparsable."""
    try:
        mol = parse_smiles(smiles, largest_fragment=True)
    except MoleculeError:
        return None
    key = Chem.MolToInchiKey(mol)
    return key[:14] if key else None


def labelled_keys(paths: Iterable[str | Path], smiles_column: str = "smiles") -> set[str]:
    """Skeleton keys of every parsable molecule in the given labelled CSV files."""
    keys: set[str] = set()
    with BlockLogs():
        for path in paths:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            if smiles_column not in frame.columns:
                raise InputError(
                    f"Labelled file '{path}': no '{smiles_column}' column; "
                    f"it has {list(frame.columns)}"
                )
            keys.update(k for k in map(skeleton_key, frame[smiles_column]) if k)
    return keys


@dataclass
class CorpusSummary:
    """Counts of one corpus build (written next to the corpus as JSON by callers)."""

    source_rows: int
    examined: int
    excluded_labelled: int
    unparsable: int
    kept: int


def build_corpus(
    source: str | Path,
    labelled: Iterable[str | Path],
    out: str | Path,
    size: int,
    seed: int = 0,
    smiles_column: str = "SMILES",
) -> CorpusSummary:
    """Write ``size`` corpus molecules, in a seeded random order, none of them labelled.

    The source rows are visited in a permutation drawn from ``seed``; each is kept unless it
    cannot be parsed or its skeleton key is in a labelled set, until ``size`` are kept. The
    output CSV has columns ``smiles`` (canonical isomeric, largest fragment) and
    ``source_row``, so any prefix of it is itself a valid seeded sample.

    Args:
        source: SMILES CSV (``.gz`` allowed) with a ``smiles_column`` column.
        labelled: Labelled CSV files whose molecules are excluded (``smiles`` column).
        out: Output CSV path.
        size: Molecules to keep (at most the number available).
        seed: Seed of the permutation.
        smiles_column: SMILES column of ``source``.
    """
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    if smiles_column not in frame.columns:
        raise InputError(
            f"Corpus '{source}': no '{smiles_column}' column; it has {list(frame.columns)}"
        )
    banned = labelled_keys(labelled)
    order = np.random.default_rng(seed).permutation(len(frame))
    kept, rows = [], []
    examined = excluded = unparsable = 0
    with BlockLogs():
        for row in order:
            if len(kept) >= size:
                break
            examined += 1
            try:
                mol = parse_smiles(frame[smiles_column].iat[row], largest_fragment=True)
            except MoleculeError:
                unparsable += 1
                continue
            if Chem.MolToInchiKey(mol)[:14] in banned:
                excluded += 1
                continue
            kept.append(canonical_smiles(mol))
            rows.append(int(row))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    pd.DataFrame({"smiles": kept, "source_row": rows}).to_csv(tmp, index=False)
    tmp.replace(out)
    summary = CorpusSummary(len(frame), examined, excluded, unparsable, len(kept))
    log.info("Corpus %s: %s", out, summary)
    return summary
