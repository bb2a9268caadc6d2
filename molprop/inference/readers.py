"""Reading prediction inputs: SMILES lists and CSV files, streamed in chunks.

CSV cells are read as strings so that input columns are written back exactly as read;
the CSV rules (encoding, ragged rows, header names) are those of :mod:`molprop.data.csvfile`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd

from molprop.data.csvfile import CsvRecords
from molprop.exceptions import InputError

DEFAULT_CHUNK_SIZE = 1000


def pick_smiles_column(
    columns: Sequence[str], requested: str | None, default: str | None, source: str
) -> str:
    """Pick the SMILES column: the requested one, the run's, or one named 'smiles'."""
    if requested is not None:
        if requested not in columns:
            raise InputError(
                f"{source}: --smiles-column '{requested}' not found; "
                f"expected one of the columns {list(columns)}"
            )
        return requested
    candidates = [default] if default else []
    candidates += [c for c in columns if str(c).lower() == "smiles"]
    for name in candidates:
        if name in columns:
            return name
    raise InputError(
        f"{source}: no SMILES column (looked for '{default or 'smiles'}'); "
        f"pass --smiles-column, one of {list(columns)}"
    )


def check_csv(path: Path) -> int:
    """Read a whole prediction CSV once and return its number of rows.

    Every bad line (encoding, field count, quoting) raises here, before anything is
    predicted or written, so a bad file never leaves a partial output.
    """
    with CsvRecords(path, f"--input '{path}'") as records:
        return sum(1 for _ in records)


def csv_header(path: Path) -> list[str]:
    """Column names of a prediction CSV (see :mod:`molprop.data.csvfile`)."""
    with CsvRecords(path, f"--input '{path}'") as records:
        return list(records.header)


def iter_csv_chunks(path: Path, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[pd.DataFrame]:
    """Yield every record of a CSV as string cells, ``chunk_size`` rows at a time.

    Every input line after the header is a row, a blank line too (all its cells empty;
    its blank SMILES gets an error in the output), so the output has one row per input
    row. A header-only file yields one empty frame with the columns.
    """
    with CsvRecords(path, f"--input '{path}'") as records:
        columns, width = records.header, len(records.header)
        rows: list[list[str]] = []
        yielded = False
        for _, fields in records:
            rows.append(fields or [""] * width)
            if len(rows) == chunk_size:
                yield pd.DataFrame(rows, columns=columns, dtype=str)
                rows, yielded = [], True
        if rows or not yielded:
            yield pd.DataFrame(rows, columns=columns, dtype=str)


def iter_smiles_chunks(
    smiles: Sequence[str] | None,
    input_path: str | Path | None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[pd.DataFrame]:
    """Yield the input rows in chunks, in input order, from a SMILES list or a CSV.

    CSV cells are strings, so input columns are written back exactly as they were read.
    An empty input yields one empty frame.
    """
    if smiles is None:
        yield from iter_csv_chunks(Path(input_path), chunk_size)
        return
    frame = pd.DataFrame({"smiles": [str(s) for s in smiles]})
    for start in range(0, max(len(frame), 1), chunk_size):
        yield frame.iloc[start : start + chunk_size]
