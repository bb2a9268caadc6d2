"""The descriptors of one run: which ones, in order, and their scaler (``model.json``).

The values come from :mod:`molprop.data.descriptors`; this is what training fits
(:class:`DescriptorSet` with a :class:`~molprop.data.descriptors.DescriptorScaler`) and
what prediction rebuilds from ``model/model.json`` to compute and scale new molecules
exactly as the training molecules were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from molprop.data.descriptors import DescriptorScaler, compute_rdkit2d, read_descriptor_columns
from molprop.exceptions import InputError


@dataclass
class DescriptorSet:
    """The molecule-level descriptors of one run: which ones, in order, and their scaler.

    Training builds it (:class:`molprop.data.datamodule.MolDataModule`); ``model/model.json`` stores
    :meth:`to_dict` as ``descriptors``, and prediction rebuilds it with :meth:`from_dict`,
    so new molecules get the same columns, scaled the same way.

    Attributes:
        rdkit2d: RDKit 2D descriptor names (empty: none), computed from the canonical SMILES.
        columns: User descriptor names (``data.descriptor_columns`` then the columns of
            ``data.descriptors_path``); predict reads them from the input file by name.
        scaler: Fitted on the training molecules; ``None`` before fitting.
    """

    rdkit2d: list[str]
    columns: list[str]
    scaler: DescriptorScaler | None = None

    @property
    def dim(self) -> int:
        """D, the number of descriptors (rdkit2d first, then user columns)."""
        return len(self.rdkit2d) + len(self.columns)

    def raw(
        self,
        smiles: Sequence[str | None],
        user: np.ndarray | None,
        cache_dir: str | Path | None = None,
    ) -> np.ndarray:
        """Unscaled descriptors ``[n, D]`` (NaN where missing).

        Args:
            smiles: Canonical SMILES per molecule; ``None`` (a failed molecule) gives NaN.
            user: User descriptor values ``[n, len(columns)]``, or ``None`` without columns.
            cache_dir: Cache root of the RDKit descriptors.
        """
        n = len(smiles)
        out = np.full((n, self.dim), np.nan)
        if self.rdkit2d:
            valid = [i for i, s in enumerate(smiles) if s]
            values = compute_rdkit2d([smiles[i] for i in valid], self.rdkit2d, cache_dir)
            out[valid, : len(self.rdkit2d)] = values
        if self.columns:
            out[:, len(self.rdkit2d) :] = np.asarray(user, dtype=float).reshape(n, -1)
        return out

    def scaled(
        self, smiles: Sequence[str | None], user: np.ndarray | None, cache_dir=None
    ) -> np.ndarray:
        """Scaled float32 descriptors ``[n, D]`` (finite; missing values are 0)."""
        if self.scaler is None:
            raise ValueError("DescriptorSet.scaled needs a fitted scaler")
        return self.scaler.transform(self.raw(smiles, user, cache_dir))

    def user_values(
        self, frame: pd.DataFrame, source: str | Path, first_row: int = 0
    ) -> np.ndarray | None:
        """Read the user descriptor columns of a predict input table (``None`` without any).

        ``first_row``: file row of ``frame``'s first row (chunked reading), for messages.

        Raises:
            InputError: A column is missing (named, with the run that needs it) or a cell is
                not a number.
        """
        if not self.columns:
            return None
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise InputError(
                f"Input '{source}': descriptor column(s) {missing} not found; the model was "
                f"trained with the user descriptors {self.columns}, so every input row needs them"
            )
        return read_descriptor_columns(frame, self.columns, source, first_row)

    def to_dict(self) -> dict:
        """JSON-safe state for ``model/model.json``."""
        scaler = None if self.scaler is None else self.scaler.to_dict()
        return {"rdkit2d": list(self.rdkit2d), "columns": list(self.columns), "scaler": scaler}

    @classmethod
    def from_dict(cls, state: dict) -> DescriptorSet:
        """Rebuild from :meth:`to_dict` output; ``InputError`` when it does not fit together."""
        if not isinstance(state, dict) or set(state) != {"rdkit2d", "columns", "scaler"}:
            raise InputError(
                f"descriptors: received {state!r}; expected an object with 'rdkit2d', "
                "'columns' and 'scaler'"
            )
        names = [state["rdkit2d"], state["columns"]]
        if not all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in names):
            raise InputError("descriptors: 'rdkit2d' and 'columns' must be lists of names")
        scaler = None if state["scaler"] is None else DescriptorScaler.from_dict(state["scaler"])
        out = cls(list(state["rdkit2d"]), list(state["columns"]), scaler)
        if scaler is not None and scaler.mean.shape[0] != out.dim:
            raise InputError(
                f"descriptors: the scaler has {scaler.mean.shape[0]} columns; expected "
                f"{out.dim} ({len(out.rdkit2d)} rdkit2d + {len(out.columns)} user)"
            )
        return out


def descriptor_dim(state: dict | None) -> int:
    """D of a stored ``descriptors`` state (0 for ``None``, a run without descriptors)."""
    return 0 if state is None else DescriptorSet.from_dict(state).dim
