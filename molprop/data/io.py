"""Reading input files: SMILES CSV files and (by suffix) SDF files (pandas, RDKit).

See :mod:`molprop.data.tables` for the validated table and the checks both readers share.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from molprop.data.csvfile import CsvRecords
from molprop.data.sdf import read_sdf
from molprop.data.tables import MolTable, check_file, finish_table
from molprop.exceptions import InputError

SDF_SUFFIXES = (".sdf", ".sd", ".mol")


def read_table(
    path: str | Path,
    smiles_column: str | None = None,
    target_columns: Sequence[str] | str | None = None,
    task: str | None = None,
    *,
    require_targets: bool = True,
    exclude: Sequence[str] = (),
) -> MolTable:
    """Read a CSV or (by suffix ``.sdf``/``.sd``/``.mol``) an SDF input file.

    Args:
        path: Input file.
        smiles_column: CSV only: SMILES column; default ``smiles`` (any letter case), else
            the first column.
        target_columns: Target columns (SD tags for an SDF); default every remaining
            numeric column with at least one value.
        task: ``regression``, ``classification`` (targets must be 0/1) or ``None`` to
            infer (classification when every target value is 0 or 1).
        require_targets: Raise when no target column is found.
        exclude: Columns never picked as default targets (e.g. the split column).
    """
    path = Path(path)
    if path.suffix.lower() in SDF_SUFFIXES:
        return read_sdf(path, target_columns, task, require_targets=require_targets)
    return read_csv(
        path, smiles_column, target_columns, task, require_targets=require_targets, exclude=exclude
    )


def read_csv(
    path: Path,
    smiles_column: str | None = None,
    target_columns: Sequence[str] | str | None = None,
    task: str | None = None,
    *,
    require_targets: bool = True,
    exclude: Sequence[str] = (),
) -> MolTable:
    """Read a SMILES CSV; see :func:`read_table` and :mod:`molprop.data.csvfile`.

    Blank lines are dropped (pandas numbers rows the same way, so split files made from
    ``pandas.read_csv`` keep their meaning); messages name each row's real line.
    """
    kind = "a CSV file with a header row, a SMILES column and at least one data row"
    check_file(path, kind)
    with CsvRecords(path, f"Input file '{path}'") as records:
        columns = records.header
        lines, rows = [], []
        for line, fields in records:
            if fields:
                lines.append(line)
                rows.append(fields)
    if not rows:
        raise InputError(
            f"Input file '{path}' has a header row but no data rows; expected at least one molecule"
        )
    frame = pd.DataFrame(rows, columns=columns, dtype=str)
    frame.index = pd.RangeIndex(len(frame), name="row")
    if smiles_column is None:
        named = [c for c in columns if c.strip().lower() == "smiles"]
        smiles_column = "smiles" if "smiles" in columns else (named or columns)[0]
    elif smiles_column not in columns:
        raise InputError(
            f"Input file '{path}': SMILES column '{smiles_column}' not found "
            f"(data.smiles_column); the file has the columns {columns}"
        )

    def locate(row: int) -> str:
        return f"row {row} (line {lines[row]})"

    candidates = [c for c in columns if c != smiles_column and c not in exclude]
    return finish_table(
        path,
        frame,
        smiles_column,
        candidates,
        target_columns,
        task,
        locate,
        "column",
        require_targets,
    )
