"""Molecule-level descriptors: RDKit 2D descriptors or user columns, cached and scaled on train.

Which descriptors a run uses, with its fitted scaler, is :mod:`molprop.data.descriptor_set`.

Two sources, one result: a float64 array ``[n_molecules, D]`` (NaN where a value is missing).

* ``rdkit2d``: every descriptor of ``rdkit.Chem.Descriptors.descList`` (217 in RDKit 2026.09;
  the names are stored with a model so that prediction computes exactly the same list),
  computed once per molecule from its canonical SMILES and cached as a ``.npy`` file keyed by
  the SMILES, the descriptor names and the RDKit version (no pickles: ``allow_pickle=False``).
  A descriptor RDKit cannot compute for a molecule (an exception, NaN or an infinite value)
  is missing for that molecule.
* user descriptors: numeric columns of the input table (``descriptor_columns``) or of a
  separate CSV with one row per input row (``descriptors_path``). Blank cells are missing; any
  other non-numeric cell is an :class:`~molprop.exceptions.InputError` naming file, row,
  column and value.

:class:`DescriptorScaler` is fitted on the training molecules only: each column is clipped to
its training 0.1–99.9 percentiles (heavy-tailed descriptors such as ``Ipc`` would otherwise
dominate), standardised, and missing values become 0, the training mean. Its state is a plain
dict of lists for ``model/model.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import rdkit
from rdkit import Chem
from rdkit.Chem import Descriptors
from rdkit.rdBase import BlockLogs

from molprop.exceptions import InputError

CACHE_FORMAT = 1
#: Percentiles of the training values that bound each column before standardising.
CLIP_PERCENTILES = (0.1, 99.9)


def rdkit2d_names() -> list[str]:
    """Names of the RDKit 2D descriptors of the installed RDKit, in ``descList`` order."""
    return [name for name, _ in Descriptors.descList]


def _one_molecule(smiles: str, functions: Sequence) -> np.ndarray:
    mol = Chem.MolFromSmiles(smiles)
    out = np.full(len(functions), np.nan)
    if mol is None:
        return out
    for j, fn in enumerate(functions):
        try:
            out[j] = float(fn(mol))
        except Exception:  # noqa: BLE001 - RDKit raises many types; the value is then missing
            continue
    out[~np.isfinite(out)] = np.nan
    return out


def compute_rdkit2d(
    smiles: Sequence[str], names: Sequence[str] | None = None, cache_dir: str | Path | None = None
) -> np.ndarray:
    """RDKit 2D descriptors ``[len(smiles), len(names)]`` (float64, NaN where missing).

    Args:
        smiles: Canonical SMILES, one per molecule.
        names: Descriptor names (default :func:`rdkit2d_names`); an unknown name is an error.
        cache_dir: Optional cache root; the array is stored under ``<cache_dir>/descriptors``.
    """
    names = list(names or rdkit2d_names())
    table = dict(Descriptors.descList)
    unknown = [n for n in names if n not in table]
    if unknown:
        raise InputError(
            f"descriptors: {unknown} are not RDKit {rdkit.__version__} descriptors; "
            f"expected names from rdkit.Chem.Descriptors.descList"
        )
    path = _cache_path(cache_dir, smiles, names) if cache_dir is not None else None
    if path is not None and path.exists():
        try:
            cached = np.load(path, allow_pickle=False)
            if cached.shape == (len(smiles), len(names)):
                return cached
        except (OSError, ValueError):
            pass  # a damaged entry is recomputed and replaced below
    functions = [table[n] for n in names]
    with BlockLogs():
        values = np.stack([_one_molecule(s, functions) for s in smiles]) if len(smiles) else None
    values = values if values is not None else np.zeros((0, len(names)))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as handle:
            np.save(handle, values, allow_pickle=False)
        os.replace(tmp, path)
    return values


def _cache_path(cache_dir: str | Path, smiles: Sequence[str], names: Sequence[str]) -> Path:
    payload = {"smiles": list(smiles), "names": list(names), "rdkit": rdkit.__version__}
    payload["format"] = CACHE_FORMAT
    key = hashlib.sha256(json.dumps(payload, separators=(",", ":")).encode()).hexdigest()
    return Path(cache_dir) / "descriptors" / key[:2] / f"{key}.npy"


def read_descriptor_columns(
    frame: pd.DataFrame, columns: Sequence[str], source: str | Path, first_row: int = 0
) -> np.ndarray:
    """Parse user descriptor columns of a string table into ``[n_rows, len(columns)]``.

    Args:
        frame: The table as strings (rows numbered from 0 in file order).
        columns: Descriptor columns, in order.
        source: File name for messages.
        first_row: Row number of ``frame``'s first row in the file (a chunk of a larger file).

    Raises:
        InputError: A column is missing, or a non-blank cell is not a finite number.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"Input file '{source}': descriptor columns {missing} not found "
            f"(data.descriptor_columns); the file has the columns {[str(c) for c in frame.columns]}"
        )
    out = np.full((len(frame), len(columns)), np.nan)
    for j, col in enumerate(columns):
        raw = frame[col].astype(str).str.strip()
        blank = raw.eq("") | raw.str.lower().isin({"na", "nan", "n/a", "null", "none"})
        nums = pd.to_numeric(raw.where(~blank), errors="coerce").to_numpy(dtype=float)
        bad = ~blank.to_numpy() & ~np.isfinite(nums)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            value, row = raw.iloc[row], row + first_row
            raise InputError(
                f"Input file '{source}', row {row} (line {row + 2}), descriptor column '{col}': "
                f"value '{value}' is not a finite number; expected a number or an empty "
                "cell for a missing value"
            )
        out[:, j] = np.where(blank.to_numpy(), np.nan, nums)
    return out


def read_descriptor_file(path: str | Path, num_rows: int) -> tuple[list[str], np.ndarray]:
    """Read a descriptor CSV with one row per input row; every column is a descriptor."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(
            f"Descriptor file '{path}' cannot be read ({exc}); expected a CSV with a header row"
        ) from None
    if len(frame) != num_rows:
        raise InputError(
            f"Descriptor file '{path}' has {len(frame)} rows; expected {num_rows}, one per "
            "row of the input file, in the same order (data.descriptors_path)"
        )
    columns = [str(c) for c in frame.columns]
    return columns, read_descriptor_columns(frame, columns, path)


def user_descriptors(
    frame: pd.DataFrame,
    columns: Sequence[str] | None,
    path: str | Path | None,
    source: str | Path,
) -> tuple[list[str], np.ndarray | None]:
    """User descriptors of a training table: its ``columns``, then every column of ``path``.

    Args:
        frame: The input table (one row per input row).
        columns: ``data.descriptor_columns`` or ``None``.
        path: ``data.descriptors_path`` or ``None``.
        source: Input file name for messages.

    Returns:
        ``(names, values [n_rows, len(names)])``; ``([], None)`` without user descriptors.
    """
    names, parts = [], []
    if columns:
        names += list(columns)
        parts.append(read_descriptor_columns(frame, columns, source))
    if path:
        file_columns, values = read_descriptor_file(path, len(frame))
        names += file_columns
        parts.append(values)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(
            f"descriptors: {twice} named twice (data.descriptor_columns and the columns of "
            f"data.descriptors_path '{path}'); expected distinct names"
        )
    return names, np.concatenate(parts, axis=1) if parts else None


@dataclass
class DescriptorScaler:
    """Clip to training percentiles, standardise, impute missing values with 0 (the mean)."""

    low: np.ndarray
    high: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> DescriptorScaler:
        """Fit on the training rows ``[n_train, D]`` (NaN ignored; all-NaN columns map to 0)."""
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            low, high = np.nanpercentile(values, CLIP_PERCENTILES, axis=0)
            clipped = np.clip(values, low, high)
            mean, std = np.nanmean(clipped, axis=0), np.nanstd(clipped, axis=0)
        # constant or all-missing columns: scale 1, so they become exactly 0
        mean, std = np.nan_to_num(mean), np.where(np.isfinite(std) & (std > 0), std, 1.0)
        return cls(np.nan_to_num(low), np.nan_to_num(high), mean, std)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Scale ``[n, D]`` values; the result is finite float32."""
        if values.shape[1] != self.mean.shape[0]:
            raise InputError(
                f"descriptors: received {values.shape[1]} columns; the model was trained on "
                f"{self.mean.shape[0]}"
            )
        scaled = (np.clip(values, self.low, self.high) - self.mean) / self.std
        return np.nan_to_num(scaled, nan=0.0).astype(np.float32)

    def to_dict(self) -> dict:
        """JSON-safe state."""
        return {k: getattr(self, k).tolist() for k in ("low", "high", "mean", "std")}

    @classmethod
    def from_dict(cls, state: dict) -> DescriptorScaler:
        """Rebuild from :meth:`to_dict` output, checking the fields."""
        try:
            arrays = {k: np.asarray(state[k], dtype=float) for k in ("low", "high", "mean", "std")}
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"descriptor scaler: invalid state ({exc!r}); expected lists 'low', 'high', "
                "'mean' and 'std' of equal length"
            ) from None
        if len({a.shape for a in arrays.values()}) != 1 or arrays["mean"].ndim != 1:
            raise InputError("descriptor scaler: 'low', 'high', 'mean', 'std' differ in length")
        return cls(**arrays)
