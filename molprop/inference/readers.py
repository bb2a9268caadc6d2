"""Reading prediction inputs: SMILES lists and CSV files, streamed in chunks.

CSV cells are read as strings so that input columns are written back exactly as read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

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


def count_rows(path: Path) -> int | None:
    """Approximate data rows of a plain CSV (lines - 1), for the progress bar."""
    if path.suffix.lower() != ".csv":
        return None
    with path.open("rb") as handle:
        lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    return max(lines - 1, 0)


def read_csv_strings(path: Path, **kwargs: Any):
    """``pandas.read_csv`` of every cell as a string, with errors naming the file."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, **kwargs)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(f"--input '{path}': cannot read as CSV: {err}") from err


def iter_smiles_chunks(
    smiles: Sequence[str] | None,
    input_path: str | Path | None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[pd.DataFrame]:
    """Yield the input rows in chunks, in input order, from a SMILES list or a CSV.

    CSV cells are read as strings (``keep_default_na=False``), so input columns are
    written back exactly as they were read. An empty input yields one empty frame.
    """
    if smiles is not None:
        frame = pd.DataFrame({"smiles": [str(s) for s in smiles]})
        for start in range(0, max(len(frame), 1), chunk_size):
            yield frame.iloc[start : start + chunk_size]
        return
    empty = True
    with read_csv_strings(Path(input_path), chunksize=chunk_size) as reader:
        for chunk in reader:
            empty = False
            yield chunk
    if empty:
        yield read_csv_strings(Path(input_path), nrows=0)
