"""Checks made after the data is set up and before any training starts.

Each turns a crash deep inside Lightning or PyG (an empty validation loader, a collate of zero
graphs) into one :class:`~molprop.exceptions.InputError` that says what to change.
"""

from __future__ import annotations

from typing import Any

from molprop.exceptions import InputError

#: Splits that must hold at least one molecule: train to fit, val for best.ckpt and early
#: stopping, test for metrics.json.
REQUIRED_SPLITS = ("train", "val", "test")


def check_splits(dm: Any) -> None:
    """Refuse a datamodule whose train, val or test split has no molecule with graphs.

    Args:
        dm: A set-up :class:`molprop.data.datamodule.MolDataModule` (``split``, ``_groups``,
            ``source``, ``data_cfg``).

    Raises:
        InputError: Naming the empty split, its size and the settings to change.
    """
    groups = getattr(dm, "_groups", {}) or {}
    counts = {
        name: sum(1 for r in dm.split.get(name, []) if groups.get(int(r))) for name in dm.split
    }
    usable = len(groups)
    empty = [name for name in REQUIRED_SPLITS if counts.get(name, 0) == 0]
    if not empty:
        return
    source = getattr(dm, "source", None)
    sizes = dm.data_cfg.split_sizes if getattr(dm, "data_cfg", None) is not None else None
    if usable == 0:
        raise InputError(
            f"data '{source}': no molecule could be used (all rows skipped, see skipped.csv); "
            "expected valid SMILES that RDKit can embed"
        )
    if usable < len(REQUIRED_SPLITS):
        raise InputError(
            f"data '{source}': {usable} usable molecule(s), but train, val and test each need "
            f"at least 1 (split sizes {counts}); expected at least {len(REQUIRED_SPLITS)} "
            "molecules, in practice many more"
        )
    zero_fraction = sizes is not None and any(
        float(sizes[REQUIRED_SPLITS.index(name)]) == 0 for name in empty
    )
    hint = (
        "give every split a non-zero fraction, e.g. data.split_sizes=[0.8,0.1,0.1]"
        if zero_fraction
        else f"with {usable} molecules these fractions round to 0: use more molecules or "
        "larger val/test fractions in data.split_sizes"
    )
    raise InputError(
        f"data '{source}': the {'/'.join(empty)} split has 0 molecules (split sizes {counts}, "
        f"data.split_sizes={sizes}); train, val and test each need at least 1 molecule: {hint}"
    )
