"""Train/val/test splits by molecule: random, scaffold, column and file.

A split is ``{"train": [...], "val": [...], "test": [...]}`` of input row indices; the
conformers of a row always follow it. Rows with the same canonical SMILES are kept in one
split by ``random`` and ``scaffold`` splits.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from molprop.chem.molecules import scaffold_smiles
from molprop.exceptions import InputError

log = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "val", "test")
METHODS = ("random", "scaffold", "column", "file")
_COLUMN_VALUES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}


def check_sizes(sizes: Sequence[float] | None) -> tuple[float, float, float]:
    """Validate ``data.split_sizes`` (three non-negative fractions summing to 1)."""
    sizes = tuple(float(s) for s in (sizes if sizes is not None else (0.8, 0.1, 0.1)))
    if len(sizes) != 3 or min(sizes) < 0 or abs(sum(sizes) - 1.0) > 1e-6:
        raise InputError(
            f"data.split_sizes: received {list(sizes)}; expected three non-negative fractions "
            "[train, val, test] that sum to 1"
        )
    return sizes  # type: ignore[return-value]


def _groups(rows: Sequence[int], keys: Sequence[str]) -> list[list[int]]:
    """Rows grouped by key, groups in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for row, key in zip(rows, keys, strict=True):
        groups.setdefault(key, []).append(int(row))
    return list(groups.values())


def random_split(rows, keys, sizes=(0.8, 0.1, 0.1), seed: int = 0) -> dict[str, list[int]]:
    """Random split of molecule groups (rows sharing a key stay together).

    Args:
        rows: Row indices to split.
        keys: Canonical SMILES of each row (the grouping key).
        sizes: Fractions for train, val and test.
        seed: Random seed.
    """
    sizes = check_sizes(sizes)
    groups = _groups(rows, keys)
    order = np.random.default_rng(seed).permutation(len(groups))
    n = len(rows)
    limits = (sizes[0] * n, (sizes[0] + sizes[1]) * n)
    split = {name: [] for name in SPLIT_NAMES}
    count = 0
    for g in order:
        name = "train" if count < limits[0] else "val" if count < limits[1] else "test"
        split[name].extend(groups[g])
        count += len(groups[g])
    return {k: sorted(v) for k, v in split.items()}


def scaffold_split(rows, smiles, sizes=(0.8, 0.1, 0.1), seed: int = 0) -> dict[str, list[int]]:
    """Balanced Bemis–Murcko scaffold split (as in chemprop).

    Scaffold sets larger than half the val or test size go first, in random order, then
    the small sets in random order; each set goes whole to train if it fits, else to val
    if it fits, else to test. No scaffold appears in two splits.

    Args:
        rows: Row indices to split.
        smiles: Canonical SMILES of each row.
        sizes: Fractions for train, val and test.
        seed: Random seed for the order of the scaffold sets.
    """
    sizes = check_sizes(sizes)
    n = len(rows)
    train_size, val_size, test_size = (s * n for s in sizes)
    sets = _groups(rows, [scaffold_smiles(s) for s in smiles])
    big = [s for s in sets if len(s) > val_size / 2 or len(s) > test_size / 2]
    small = [s for s in sets if not (len(s) > val_size / 2 or len(s) > test_size / 2)]
    rng = np.random.default_rng(seed)
    big = [big[i] for i in rng.permutation(len(big))]
    small = [small[i] for i in rng.permutation(len(small))]
    split = {name: [] for name in SPLIT_NAMES}
    for members in big + small:
        if len(split["train"]) + len(members) <= train_size:
            split["train"].extend(members)
        elif len(split["val"]) + len(members) <= val_size:
            split["val"].extend(members)
        else:
            split["test"].extend(members)
    log.info(
        "Scaffold split: %d scaffolds, sizes %s", len(sets), {k: len(v) for k, v in split.items()}
    )
    return {k: sorted(v) for k, v in split.items()}


def column_split(frame: pd.DataFrame, column: str | None, rows, source: str) -> dict:
    """Split from a column holding ``train``/``val``/``test`` per row.

    Args:
        frame: The input table (index = row).
        column: ``data.split_column``.
        rows: The usable rows (others are ignored).
        source: Input file name for messages.
    """
    if not column or column not in frame.columns:
        raise InputError(
            f"Input file '{source}': split column '{column}' not found (data.split_column); "
            f"the file has the columns {[str(c) for c in frame.columns]}"
        )
    split = {name: [] for name in SPLIT_NAMES}
    for row in rows:
        raw = str(frame[column].iloc[int(row)])
        name = _COLUMN_VALUES.get(raw.strip().lower())
        if name is None:
            raise InputError(
                f"Input file '{source}', row {row} (line {int(row) + 2}), column '{column}': "
                f"value '{raw}' is not a split name; expected train, val or test"
            )
        split[name].append(int(row))
    return split


def file_split(path, key: str | None, rows, num_rows: int) -> dict[str, list[int]]:
    """Split from a JSON file of row indices.

    The file holds ``{"train": [...], "val": [...], "test": [...]}``, or a dict of such
    splits selected by ``data.split_key`` (the format of ``shared/data/splits/*.json``).
    Rows that are not usable (skipped molecules) are dropped from the split.
    """
    path = Path(str(path)) if path else None
    if path is None or not path.is_file():
        raise InputError(
            f"Split file '{path}' does not exist (data.split_file); expected a JSON "
            "file with train/val/test row indices"
        )
    try:
        content = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"Split file '{path}' is not valid JSON ({exc})") from None
    content = _select_split(path, content, key)
    usable = {int(r) for r in rows}
    split, seen = {}, {}
    for name in SPLIT_NAMES:
        values = content[name]
        for value in values:
            # JSON true/false are Python bools, which are ints: never read them as rows 1/0
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < num_rows:
                raise InputError(
                    f"Split file '{path}', split '{name}': value {json.dumps(value)} is not a row "
                    f"index; expected integers from 0 to {num_rows - 1}"
                )
            if value in seen:
                raise InputError(
                    f"Split file '{path}': row {value} is in both "
                    f"'{seen[value]}' and '{name}'; expected disjoint splits"
                )
            seen[value] = name
        split[name] = sorted(v for v in values if v in usable)
    return split


def _select_split(path: Path, content, key: str | None) -> dict[str, list]:
    """Return the checked ``train``/``val``/``test`` lists of a split file (see file_split)."""
    expected = "a JSON object with the lists 'train', 'val' and 'test' (or a dict of them)"
    if not isinstance(content, dict):
        raise InputError(
            f"Split file '{path}': received a JSON {type(content).__name__}; expected {expected}"
        )
    where = f"Split file '{path}'"
    if not set(SPLIT_NAMES) & set(content):  # a dict of named splits
        if key is None:
            raise InputError(
                f"{where} holds the splits {sorted(content)}; set data.split_key to one of them"
            )
        if key not in content:
            raise InputError(
                f"{where}: split key '{key}' not found (data.split_key); the file has the keys "
                f"{sorted(content)}"
            )
        content, where = content[key], f"{where}, split key '{key}'"
        if not isinstance(content, dict):
            raise InputError(
                f"{where}: received a JSON {type(content).__name__}; expected {expected}"
            )
    missing = [name for name in SPLIT_NAMES if name not in content]
    if missing:
        raise InputError(
            f"{where}: no {' and no '.join(repr(m) for m in missing)} list; expected the lists "
            f"'train', 'val' and 'test' (found {sorted(content)})"
        )
    for name in SPLIT_NAMES:
        if not isinstance(content[name], list):
            raise InputError(
                f"{where}, split '{name}': received a JSON {type(content[name]).__name__}; "
                "expected a list of row indices"
            )
    return content


def make_split(data_cfg: dict, frame: pd.DataFrame, rows, canonical, source: str) -> dict:
    """Split the usable rows according to the ``data`` config.

    Args:
        data_cfg: ``data`` settings, every split field of
            :class:`molprop.data.config.DataConfig` (which holds their defaults): ``split``,
            ``split_sizes``, ``split_seed``, ``split_column``, ``split_file``, ``split_key``.
        frame: The input table.
        rows: Usable row indices.
        canonical: Canonical SMILES of those rows.
        source: Input file name for messages.
    """
    method = str(data_cfg["split"]).lower()
    if method in ("random", "scaffold"):
        split = random_split if method == "random" else scaffold_split
        return split(rows, canonical, data_cfg["split_sizes"], int(data_cfg["split_seed"]))
    if method == "column":
        return column_split(frame, data_cfg["split_column"], rows, source)
    if method == "file":
        return file_split(data_cfg["split_file"], data_cfg["split_key"], rows, len(frame))
    raise InputError(f"data.split: received '{method}'; expected one of {METHODS}")


def write_split(split: dict[str, list[int]], path: str | Path) -> None:
    """Write ``splits.json`` (row indices per split)."""
    Path(path).write_text(json.dumps({k: [int(i) for i in v] for k, v in split.items()}))
