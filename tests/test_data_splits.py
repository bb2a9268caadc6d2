"""Splits are by molecule; scaffold splits never share a scaffold."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from molprop.chem.molecules import prepare_smiles, scaffold_smiles
from molprop.data.splits import column_split, file_split, make_split, random_split, scaffold_split
from molprop.exceptions import InputError

SMILES = [
    "c1ccccc1O",
    "c1ccccc1N",
    "c1ccccc1C",
    "c1ccccc1CC",
    "c1ccccc1Cl",
    "c1ccccc1F",
    "C1CCCCC1O",
    "C1CCCCC1N",
    "C1CCCCC1C",
    "c1ccncc1",
    "Cc1ccncc1",
    "c1ccc2ccccc2c1",
    "CCO",
    "CCCO",
    "CCN",
    "CC(=O)O",
    "C1CCOC1",
    "C1CCNCC1",
    "c1ccoc1",
    "c1ccsc1",
]
ROWS = list(range(len(SMILES)))
CANON = [prepare_smiles(s) for s in SMILES]


def check_partition(split, rows):
    together = split["train"] + split["val"] + split["test"]
    assert sorted(together) == sorted(rows)  # every molecule exactly once


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scaffold_split_no_scaffold_in_two_splits(seed):
    split = scaffold_split(ROWS, CANON, (0.6, 0.2, 0.2), seed)
    check_partition(split, ROWS)
    scaffolds = {k: {scaffold_smiles(CANON[r]) for r in v} for k, v in split.items()}
    assert not scaffolds["train"] & scaffolds["val"]
    assert not scaffolds["train"] & scaffolds["test"]
    assert not scaffolds["val"] & scaffolds["test"]
    assert len(split["train"]) <= 12


def test_random_split_keeps_duplicate_molecules_together():
    canon = CANON + [CANON[0], CANON[12]]
    rows = list(range(len(canon)))
    for seed in range(5):
        split = random_split(rows, canon, (0.5, 0.25, 0.25), seed)
        check_partition(split, rows)
        where = {r: k for k, v in split.items() for r in v}
        assert where[0] == where[20] and where[12] == where[21]
    assert random_split(rows, canon, seed=3) == random_split(rows, canon, seed=3)


def test_column_split_and_bad_value():
    frame = pd.DataFrame({"smiles": ["C", "CC", "CCC"], "set": ["train", "Valid", "test"]})
    assert column_split(frame, "set", [0, 1, 2], "x.csv") == {
        "train": [0],
        "val": [1],
        "test": [2],
    }
    frame.loc[1, "set"] = "holdout"
    with pytest.raises(InputError) as info:
        column_split(frame, "set", [0, 1, 2], "x.csv")
    assert str(info.value) == (
        "Input file 'x.csv', row 1 (line 3), column 'set': value 'holdout' is not a split "
        "name; expected train, val or test"
    )


def test_file_split_with_key_drops_skipped_rows(tmp_path):
    path = tmp_path / "splits.json"
    content = {"scaffold": {"train": [0, 1, 2], "val": [3], "test": [4, 5]}, "other": {}}
    path.write_text(json.dumps(content))
    split = file_split(path, "scaffold", rows=[0, 1, 3, 4, 5], num_rows=6)
    assert split == {"train": [0, 1], "val": [3], "test": [4, 5]}
    with pytest.raises(InputError) as info:
        file_split(path, "random", rows=[0], num_rows=6)
    assert str(info.value) == (
        f"Split file '{path}': split key 'random' not found (data.split_key); the file has "
        "the keys ['other', 'scaffold']"
    )
    path.write_text(json.dumps({"train": [0, 9], "val": [], "test": []}))
    with pytest.raises(InputError) as info:
        file_split(path, None, rows=[0], num_rows=6)
    assert str(info.value) == (
        f"Split file '{path}', split 'train': value 9 is not a row index; expected integers "
        "from 0 to 5"
    )


def _split_settings(**kw) -> dict:
    """The split fields of DataConfig (their defaults), with ``kw`` changed."""
    from dataclasses import fields

    from molprop.data.config import DataConfig

    names = ("split", "split_sizes", "split_seed", "split_column", "split_file", "split_key")
    defaults = {f.name: f.default for f in fields(DataConfig) if f.name in names}
    return {**defaults, **kw}


def test_make_split_dispatch_and_bad_sizes():
    frame = pd.DataFrame({"smiles": SMILES})
    split = make_split(
        _split_settings(split="scaffold", split_sizes=[0.8, 0.1, 0.1]), frame, ROWS, CANON, "f"
    )
    check_partition(split, ROWS)
    with pytest.raises(InputError) as info:
        make_split(_split_settings(split_sizes=[0.8, 0.3, 0.1]), frame, ROWS, CANON, "f")
    assert str(info.value) == (
        "data.split_sizes: received [0.8, 0.3, 0.1]; expected three non-negative fractions "
        "[train, val, test] that sum to 1"
    )
    with pytest.raises(InputError) as info:
        make_split(_split_settings(split="stratified"), frame, ROWS, CANON, "f")
    assert str(info.value) == (
        "data.split: received 'stratified'; expected one of ('random', 'scaffold', 'column', "
        "'file')"
    )
