"""Molecule descriptors: RDKit 2D values, the cache, user columns and the train-only scaler."""

import numpy as np
import pandas as pd
import pytest

from molprop.data.descriptors import (
    DescriptorScaler,
    compute_rdkit2d,
    rdkit2d_names,
    read_descriptor_columns,
    read_descriptor_file,
)
from molprop.exceptions import InputError

SMILES = ["CCO", "c1ccccc1", "CC(=O)O"]


def test_rdkit2d_values_and_cache(tmp_path):
    names = ["MolWt", "NumHDonors", "RingCount"]
    values = compute_rdkit2d(SMILES, names, cache_dir=tmp_path)
    assert values.shape == (3, 3)
    np.testing.assert_allclose(values[:, 0], [46.069, 78.114, 60.052], atol=1e-2)
    assert values[:, 1].tolist() == [1, 0, 1] and values[:, 2].tolist() == [0, 1, 0]
    (entry,) = (tmp_path / "descriptors").rglob("*.npy")
    np.save(entry, np.full((3, 3), 7.0))  # the cache is read back, not recomputed
    assert (compute_rdkit2d(SMILES, names, cache_dir=tmp_path) == 7.0).all()
    entry.write_bytes(b"damaged")  # a damaged entry is recomputed
    np.testing.assert_array_equal(compute_rdkit2d(SMILES, names, cache_dir=tmp_path), values)


def test_default_list_and_unknown_names():
    assert len(rdkit2d_names()) > 100
    assert compute_rdkit2d(["CCO"]).shape == (1, len(rdkit2d_names()))
    with pytest.raises(InputError, match="NoSuchDescriptor"):
        compute_rdkit2d(SMILES, ["MolWt", "NoSuchDescriptor"])


def test_user_columns_blank_is_missing_and_bad_cell_is_named():
    frame = pd.DataFrame({"smiles": SMILES, "d1": ["1.5", "", "2"], "d2": ["0", "NA", "x"]})
    values = read_descriptor_columns(frame[["smiles", "d1"]], ["d1"], "in.csv")
    assert np.isnan(values[1, 0]) and values[2, 0] == 2.0
    with pytest.raises(InputError, match=r"row 2 \(line 4\), descriptor column 'd2': value 'x'"):
        read_descriptor_columns(frame, ["d1", "d2"], "in.csv")
    with pytest.raises(InputError, match=r"\['d3'\] not found"):
        read_descriptor_columns(frame, ["d3"], "in.csv")


def test_descriptor_file_must_have_one_row_per_input_row(tmp_path):
    path = tmp_path / "desc.csv"
    pd.DataFrame({"a": [1, 2], "b": [3, 4]}).to_csv(path, index=False)
    names, values = read_descriptor_file(path, 2)
    assert names == ["a", "b"] and values.tolist() == [[1, 3], [2, 4]]
    with pytest.raises(InputError, match="has 2 rows; expected 3"):
        read_descriptor_file(path, 3)


def test_scaler_fits_train_only_clips_imputes_and_round_trips():
    rng = np.random.default_rng(0)
    train = rng.normal(5.0, 2.0, size=(500, 3))
    train[:, 1] = 4.0  # constant column
    train[0, 2] = np.nan
    scaler = DescriptorScaler.fit(train)
    scaled = scaler.transform(train)
    assert np.isfinite(scaled).all() and scaled.dtype == np.float32
    assert abs(scaled[:, 0].mean()) < 1e-6 and abs(scaled[:, 0].std() - 1) < 1e-3
    assert (scaled[:, 1] == 0).all() and scaled[0, 2] == 0
    outlier = scaler.transform(np.array([[1e9, 4.0, np.nan]]))
    assert outlier[0, 0] == pytest.approx(
        scaled[:, 0].max(), abs=1e-4
    )  # clipped to the train range
    again = DescriptorScaler.from_dict(scaler.to_dict())
    np.testing.assert_array_equal(again.transform(train), scaled)
    with pytest.raises(InputError, match="received 2 columns"):
        scaler.transform(train[:, :2])
    with pytest.raises(InputError, match="invalid state"):
        DescriptorScaler.from_dict({"low": [0]})
