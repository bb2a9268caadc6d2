"""Reading SMILES CSV files: defaults, missing values and every bad-input message."""

from __future__ import annotations

import numpy as np
import pytest

from molprop.data.io import read_table
from molprop.exceptions import InputError, MolpropError


def write(tmp_path, text: str, name: str = "in.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(*args, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        read_table(*args, **kwargs)
    assert isinstance(info.value, MolpropError) and isinstance(info.value, ValueError)
    return str(info.value)


def test_defaults_targets_carried_and_blanks(tmp_path):
    path = write(tmp_path, "id,smiles,name,a,b\nm1,CCO,ethanol,1.5,\nm2,CCN,ethylamine,,2\n")
    table = read_table(path)
    assert table.smiles_column == "smiles"
    assert table.target_columns == ["a", "b"]
    assert table.carried_columns == ["id", "name"]
    assert table.smiles == ["CCO", "CCN"]
    assert table.task == "regression"
    assert table.targets.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(table.targets), [[False, True], [True, False]])
    assert table.targets[0, 0] == 1.5 and table.targets[1, 1] == 2.0


def test_first_column_is_smiles_without_smiles_header(tmp_path):
    path = write(tmp_path, "structure,y\nCCO,1\nCCC,NA\n")
    table = read_table(path)
    assert table.smiles_column == "structure"
    assert table.target_columns == ["y"]
    assert np.isnan(table.targets[1, 0])


def test_smiles_column_any_case(tmp_path):
    path = write(tmp_path, "id,SMILES,y\n1,CCO,1\n")
    assert read_table(path).smiles_column == "SMILES"


def test_classification_inferred_and_explicit(tmp_path):
    path = write(tmp_path, "smiles,p\nCCO,1\nCCC,0\nCCN,\n")
    assert read_table(path).task == "classification"
    assert read_table(path, task="regression").task == "regression"


def test_duplicate_smiles_warn_once_and_are_kept(tmp_path, caplog):
    path = write(tmp_path, "smiles,y\nCCO,1.5\nCCC,2\nCCO,3\n")
    message = (
        f"Input file '{path}': 1 rows repeat the SMILES of an earlier row (e.g. 'CCO' in "
        "rows [0, 2]); duplicates are kept"
    )
    with caplog.at_level("WARNING", logger="molprop.data.tables"):
        table = read_table(path)
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [message]
    assert len(table) == 3


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    assert error_of(path) == (
        f"Input file '{path}' does not exist; expected a CSV file with a header row, "
        "a SMILES column and at least one data row"
    )


def test_empty_file(tmp_path):
    path = write(tmp_path, "")
    assert error_of(path) == (
        f"Input file '{path}' is empty (0 bytes); expected a CSV file with a header row, "
        "a SMILES column and at least one data row"
    )


def test_header_only_file(tmp_path):
    path = write(tmp_path, "smiles,y\n")
    assert error_of(path) == (
        f"Input file '{path}' has a header row but no data rows; expected at least one molecule"
    )


def test_missing_smiles_column_lists_columns(tmp_path):
    path = write(tmp_path, "mol,y\nCCO,1\n")
    assert error_of(path, smiles_column="smiles") == (
        f"Input file '{path}': SMILES column 'smiles' not found (data.smiles_column); "
        "the file has the columns ['mol', 'y']"
    )


def test_missing_target_column(tmp_path):
    path = write(tmp_path, "smiles,y\nCCO,1\n")
    assert error_of(path, target_columns=["logS"]) == (
        f"Input file '{path}': target column 'logS' not found (data.target_columns); "
        "the file has the columns ['smiles', 'y']"
    )


def test_non_numeric_target(tmp_path):
    path = write(tmp_path, "smiles,y\nCCO,1\nCCC,abc\n")
    assert error_of(path, target_columns=["y"]) == (
        f"Input file '{path}', row 1 (line 3), column 'y': value 'abc' is not a number; "
        "expected a numeric target value or an empty cell for a missing value"
    )


def test_target_column_without_values(tmp_path):
    path = write(tmp_path, "smiles,y\nCCO,\nCCC,\n")
    assert error_of(path, target_columns=["y"]) == (
        f"Input file '{path}', column 'y': the target column has no values (all 2 rows are "
        "empty); expected at least one numeric value"
    )


def test_classification_target_outside_0_1(tmp_path):
    path = write(tmp_path, "smiles,y\nCCO,1\nCCC,0\nCCN,2\n")
    # listed: three distinct integers alone would make 'y' look like an identifier
    assert error_of(path, target_columns=["y"], task="classification") == (
        f"Input file '{path}', row 2 (line 4), column 'y': value '2' is not a class label; "
        "expected 0 or 1 (or an empty cell for a missing value) because data.task is "
        "classification"
    )


def test_no_target_column(tmp_path):
    path = write(tmp_path, "smiles,name\nCCO,ethanol\n")
    assert error_of(path) == (
        f"Input file '{path}': no target column found; expected data.target_columns to name "
        "numeric columns among ['name'] or the file to have a numeric column"
    )
    assert read_table(path, require_targets=False).target_columns == []


def test_bad_task_value(tmp_path):
    path = write(tmp_path, "smiles,y\nCCO,1\n")
    assert error_of(path, task="ranking") == (
        "data.task: received 'ranking'; expected one of ('regression', 'classification')"
    )
