"""Reading SDF input: coordinates kept, records sharing _Name grouped, targets from SD tags."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem

from molprop.data.io import read_table
from molprop.data.keys import validate_data
from molprop.data.pipeline import sdf_to_graphs
from molprop.exceptions import InputError


def make_sdf(path, records):
    """records: (name, smiles, seed, tags)."""
    coords = []
    with Chem.SDWriter(str(path)) as writer:
        for name, smiles, seed, tags in records:
            mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
            AllChem.EmbedMolecule(mol, randomSeed=seed)
            mol.SetProp("_Name", name)
            for key, value in tags.items():
                mol.SetProp(key, value)
            writer.write(mol)
            coords.append(mol.GetConformer().GetPositions())
    return coords


@pytest.fixture
def sdf(tmp_path):
    path = tmp_path / "mols.sdf"
    coords = make_sdf(
        path,
        [
            ("ethanol", "CCO", 1, {"y": "1.5", "note": "a"}),
            ("ethanol", "CCO", 2, {"y": "1.5", "note": "a"}),
            ("phenol", "Oc1ccccc1", 3, {"y": "", "note": "b"}),
        ],
    )
    return path, coords


def test_read_sdf_groups_by_name(sdf):
    path, coords = sdf
    table = read_table(path, target_columns=["y"])
    assert list(table.frame["_Name"]) == ["ethanol", "phenol"]
    assert table.target_columns == ["y"] and table.carried_columns[:2] == ["_Name", "note"]
    assert table.targets[0, 0] == 1.5 and np.isnan(table.targets[1, 0])
    assert table.structures[0].GetNumConformers() == 2
    np.testing.assert_allclose(
        table.structures[0].GetConformer(1).GetPositions(), coords[1], atol=1e-4
    )


def test_sdf_to_graphs_uses_coordinates_as_given(sdf):
    path, coords = sdf
    records, graphs, errors = sdf_to_graphs(path, {"hydrogens": "explicit"}, ["y"])
    assert errors == [None, None]
    assert [len(g) for g in graphs] == [2, 1]
    assert list(records["smiles"]) == ["CCO", "Oc1ccccc1"]
    for k, data in enumerate(graphs[0]):
        validate_data(data, num_tasks=1)
        assert int(data.conf_idx) == k and int(data.mol_idx) == 0
        np.testing.assert_allclose(data.pos.numpy(), coords[k], atol=2e-4)
    assert graphs[0][0].y[0, 0].item() == 1.5


def test_sdf_non_numeric_tag(tmp_path):
    path = tmp_path / "bad.sdf"
    make_sdf(path, [("m1", "CCO", 1, {"y": "1"}), ("m2", "CCN", 1, {"y": "high"})])
    with pytest.raises(InputError) as info:
        read_table(path, target_columns=["y"])
    assert str(info.value) == (
        f"Input file '{path}', record 2 (_Name 'm2'), SD tag 'y': value 'high' is not a number; "
        "expected a numeric target value or an empty cell for a missing value"
    )


def test_sdf_missing_file(tmp_path):
    path = tmp_path / "none.sdf"
    with pytest.raises(InputError) as info:
        read_table(path)
    assert str(info.value) == (
        f"Input file '{path}' does not exist; expected an SDF file with at least one record"
    )
