"""Boundary checks of prediction: device, descriptor columns, non-finite outputs.

:func:`resolve_device` checks ``--device``, :func:`check_descriptor_inputs` that an input
has the run's user descriptor columns, and :func:`blank_non_finite` turns NaN/inf model
outputs into per-row errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from molprop.columns import ERROR_COLUMN, NUM_CONFORMERS_COLUMN
from molprop.data.descriptor_set import DescriptorSet
from molprop.exceptions import InputError


def resolve_device(device: str | torch.device) -> torch.device:
    """``device`` as a :class:`torch.device`; ``InputError`` if torch cannot use it here."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise InputError(
            f"--device: {device!r} is not a torch device; expected e.g. 'cpu', 'cuda', 'cuda:1'"
        ) from err
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (dev.index or 0) >= count:
            raise InputError(
                f"--device: {device!r} requested, but torch {torch.__version__} sees {count} "
                "CUDA device(s); use --device cpu"
            )
    return dev


def check_descriptor_inputs(
    descriptors: DescriptorSet | None, columns: Sequence[str] | None, source: str
) -> None:
    """Raise a one-line ``InputError`` when an input lacks a user descriptor column of the run.

    Args:
        descriptors: The run's descriptors (``None``: nothing to check).
        columns: Columns of the input (``None``: SMILES given directly, no columns).
        source: The input, for the message (``--input 'x.csv'``, ``--smiles``).
    """
    if descriptors is None or not descriptors.columns:
        return
    missing = [c for c in descriptors.columns if c not in (columns or [])]
    if missing:
        raise InputError(
            f"{source}: descriptor column(s) {missing} not found; the model was trained with "
            f"the user descriptors {descriptors.columns}, so the input needs these columns"
            + ("" if columns is not None else " (use --input with a CSV instead of --smiles)")
        )


def blank_non_finite(values: dict[str, Any], task_names: Sequence[str], counts) -> None:
    """Turn rows whose bagged prediction is NaN/inf into per-row errors (in place).

    A prediction is never silently blank: such a row keeps ``num_conformers`` but gets empty
    predictions and spreads and an ``error`` saying the model output was not finite.

    Args:
        values: Output columns by name (arrays of length n; ``error`` a list of str).
        task_names: The run's tasks.
        counts: Conformers bagged per row, shape ``[n]`` (0: the row already failed).
    """
    preds = np.stack([values[task] for task in task_names], axis=1)
    bad = (~np.isfinite(preds)).any(axis=1) & (np.asarray(counts) > 0)
    for i in np.flatnonzero(bad):
        tasks = [t for t, v in zip(task_names, preds[i], strict=True) if not np.isfinite(v)]
        values[ERROR_COLUMN][i] = (
            f"the model predicted a non-finite value for {', '.join(tasks)}; "
            "the run's weights or this molecule's graphs are broken"
        )
        for name, column in values.items():
            if name.startswith(tuple(task_names)) and name != NUM_CONFORMERS_COLUMN:
                if isinstance(column, np.ndarray) and column.dtype.kind == "f":
                    column[i] = np.nan
