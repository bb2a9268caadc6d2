"""The validated input table and the checks shared by the CSV and SDF readers.

Rows are numbered from 0 in file order (the first data row is row 0, on line 2 of a
CSV); that number is the molecule's ``mol_idx`` and the index used by split files.
Every problem raises :class:`~molprop.exceptions.InputError` whose message names the
file, the row or record, the column, the value and what was expected.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem

from molprop.exceptions import InputError

log = logging.getLogger(__name__)

#: Cell values read as a missing target (compared case-insensitively, after stripping).
NA_TOKENS = frozenset({"", "na", "nan", "n/a", "null", "none"})
TASKS = ("regression", "classification")
#: Name tokens of identifier columns (carried, never default targets); see identifier_reason.
ID_NAME_TOKENS = frozenset(
    {"id", "ids", "name", "names", "compound", "compounds", "cid", "cas", "inchi", "inchikey"}
)
FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass
class MolTable:
    """A validated input table.

    Attributes:
        path: The file read.
        frame: The table as strings, index = row number (0-based); for an SDF, one row
            per molecule with ``_Name``, ``smiles`` and the SD tags.
        smiles_column: Column holding the SMILES.
        target_columns: Target columns, in order (``T`` of them).
        carried_columns: Every other column, carried through to outputs.
        targets: Float64 array ``[n_rows, T]``, NaN where missing.
        task: ``"regression"`` or ``"classification"``.
        structures: SDF only: per row, a molecule with explicit hydrogens carrying one
            RDKit conformer per record (``None`` when it could not be read).
        errors: SDF only: per row, the reason a molecule could not be read, else None.
    """

    path: Path
    frame: pd.DataFrame
    smiles_column: str
    target_columns: list[str]
    carried_columns: list[str]
    targets: np.ndarray
    task: str
    structures: list[Chem.Mol | None] | None = None
    errors: list[str | None] | None = field(default=None)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def smiles(self) -> list[str]:
        """The SMILES of every row, in row order."""
        return self.frame[self.smiles_column].tolist()


def check_file(path: Path, kind: str) -> None:
    """Raise when ``path`` is missing, not a file or empty."""
    if not path.exists():
        raise InputError(f"Input file '{path}' does not exist; expected {kind}")
    if not path.is_file():
        raise InputError(f"Input file '{path}' is not a file; expected {kind}")
    if path.stat().st_size == 0:
        raise InputError(f"Input file '{path}' is empty (0 bytes); expected {kind}")


def finish_table(
    path, frame, smiles_column, candidates, target_columns, task, locate, what, require
):
    """Select and parse targets, check the task, warn about duplicates; build the table.

    The chosen targets and the task are logged (INFO), so every run states what it trains.
    """
    targets_cols = _select_targets(path, frame, candidates, target_columns, locate, what)
    if require and not targets_cols:
        ids = [c for c in candidates if identifier_reason(c, frame[c]) and _looks_numeric(frame[c])]
        hint = ""
        if ids:
            hint = f"; {ids} look like identifiers, carried unless listed in data.target_columns"
        raise InputError(
            f"Input file '{path}': no target {what} found; expected data.target_columns to name "
            f"numeric {what}s among {candidates} or the file to have a numeric {what}{hint}"
        )
    values = [_parse_numeric(path, frame, c, locate, what) for c in targets_cols]
    targets = np.stack(values, axis=1) if values else np.zeros((len(frame), 0))
    task = _check_task(path, frame, targets_cols, targets, task, locate, what)
    _warn_duplicates(path, frame[smiles_column], locate)
    carried = [c for c in frame.columns if c != smiles_column and c not in targets_cols]
    if targets_cols:
        log.info(
            "Input file '%s': %d rows; training on target %ss %s as %s; carried %ss %s",
            path,
            len(frame),
            what,
            list(targets_cols),
            task,
            what,
            carried,
        )
    return MolTable(path, frame, smiles_column, list(targets_cols), carried, targets, task)


def identifier_reason(name: str, series: pd.Series) -> str | None:
    """Why a column looks like an identifier rather than a target, or ``None``.

    Identifier-like: a name with a token such as id/name/compound (``Compound ID``,
    ``mol_id``, ``molName``), or at least 3 values that are all distinct integers with
    no blank (a running number). Such columns are carried, never picked as default targets.
    """
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(name))
    tokens = set(re.split(r"[^a-z0-9]+", spaced.lower()))
    if tokens & ID_NAME_TOKENS:
        return f"its name '{name}' marks an identifier"
    values = series.astype(str).str.strip()
    if len(values) >= 3 and values.str.fullmatch(r"[+-]?\d+").all() and values.is_unique:
        return "its values are all distinct integers"
    return None


def _select_targets(path, frame, candidates, target_columns, locate, what) -> list[str]:
    if target_columns is not None:
        if isinstance(target_columns, str):
            target_columns = [target_columns]
        for col in target_columns:
            if col not in frame.columns:
                raise InputError(
                    f"Input file '{path}': target {what} '{col}' not found (data.target_columns); "
                    f"the file has the {what}s {[str(c) for c in frame.columns]}"
                )
        return list(target_columns)
    chosen = []
    for col in candidates:
        reason = identifier_reason(col, frame[col])
        if reason:
            log.info(
                "Input file '%s': %s '%s' is carried, not trained: %s (list it in "
                "data.target_columns to train on it)",
                path,
                what,
                col,
                reason,
            )
        elif _looks_numeric(frame[col]):
            chosen.append(col)
    return chosen


def _blank(series: pd.Series) -> pd.Series:
    return series.astype(str).str.strip().str.lower().isin(NA_TOKENS)


def _looks_numeric(series: pd.Series) -> bool:
    """Return whether a column is a would-be target: half its non-blank cells are numbers.

    Such a column is parsed strictly, so one bad cell is an error naming it instead of
    the column silently dropping out of the targets.
    """
    blank = _blank(series)
    if blank.all():
        return False
    nums = pd.to_numeric(series[~blank].astype(str).str.strip(), errors="coerce")
    return bool(nums.notna().mean() >= 0.5)


def _parse_numeric(path, frame, col, locate: Callable[[int], str], what) -> np.ndarray:
    raw = frame[col].astype(str)
    blank = _blank(raw)
    if blank.all():
        raise InputError(
            f"Input file '{path}', {what} '{col}': the target {what} has no values (all "
            f"{len(frame)} rows are empty); expected at least one numeric value"
        )
    nums = pd.to_numeric(raw.str.strip().where(~blank), errors="coerce").to_numpy(
        dtype=float, copy=True
    )
    bad = ~blank.to_numpy() & ~np.isfinite(nums)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        kind = "a finite number" if np.isinf(nums[row]) else "a number"
        raise InputError(
            f"Input file '{path}', {locate(row)}, {what} '{col}': value '{raw.iloc[row]}' is not "
            f"{kind}; expected a numeric target value or an empty cell for a missing value"
        )
    huge = ~blank.to_numpy() & (np.abs(nums) > FLOAT32_MAX)
    if huge.any():
        row = int(np.flatnonzero(huge)[0])
        raise InputError(
            f"Input file '{path}', {locate(row)}, {what} '{col}': value '{raw.iloc[row]}' is "
            f"outside the float32 range the model trains in; expected |value| <= {FLOAT32_MAX:.3g}"
        )
    nums[blank.to_numpy()] = np.nan
    return nums


def _check_task(path, frame, cols, targets, task, locate, what) -> str:
    if task is not None and task not in TASKS:
        raise InputError(f"data.task: received '{task}'; expected one of {TASKS}")
    finite = ~np.isnan(targets)
    binary = np.isin(targets, (0.0, 1.0)) | ~finite
    if task is None:
        task = "classification" if targets.size and finite.any() and binary.all() else "regression"
        why = "every" if task == "classification" else "not every"
        log.info(
            "Input file '%s': data.task inferred as %s (%s target value is 0 or 1; set "
            "data.task to override)",
            path,
            task,
            why,
        )
    if task == "classification" and not binary.all():
        row, j = (int(v[0]) for v in np.nonzero(~binary))
        raw = frame[cols[j]].iloc[row]
        raise InputError(
            f"Input file '{path}', {locate(row)}, {what} '{cols[j]}': value '{raw}' is not a "
            "class label; expected 0 or 1 (or an empty cell for a missing value) because "
            "data.task is classification"
        )
    return task


def _warn_duplicates(path, smiles: pd.Series, locate) -> None:
    stripped = smiles.astype(str).str.strip()
    dup = stripped.duplicated(keep=False) & (stripped != "")
    if not dup.any():
        return
    repeats = int((stripped.duplicated() & (stripped != "")).sum())
    first = stripped[dup].iloc[0]
    rows = stripped.index[stripped == first].tolist()
    message = (
        f"Input file '{path}': {repeats} rows repeat the SMILES of an earlier row (e.g. "
        f"'{first}' in rows {rows}); duplicates are kept"
    )
    log.warning(message)  # once, through logging (a second warnings.warn would repeat it)
