"""Atom/bond features and radius graphs follow the data contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from molprop.chem.config import ConformerConfig
from molprop.chem.embed import embed_molecule
from molprop.data.config import GraphConfig
from molprop.data.featurize import (
    ATOM_FEATURE_DIM,
    BOND_FEATURE_DIM,
    MolFeaturizer,
    atom_features,
    radius_edges,
)
from molprop.data.keys import validate_data
from molprop.data.pipeline import smiles_to_graphs
from molprop.exceptions import InputError

CFG = {"pool_size": 2, "prune_rms": 0.0, "optimize": "none"}


@pytest.fixture(scope="module")
def phenol():
    return embed_molecule("Oc1ccccc1", ConformerConfig.from_dict(CFG))


def test_dims_are_exported():
    assert ATOM_FEATURE_DIM == 44 and BOND_FEATURE_DIM == 8


def test_explicit_hydrogens_fully_connected(phenol):
    graph = {"hydrogens": "explicit", "cutoff": None, "max_neighbors": None}
    data = MolFeaturizer(phenol.mol, graph).graph(phenol.coords[1], [2.0], 5, 1)
    validate_data(data, num_tasks=1)
    n = 13
    assert data.z.tolist().count(1) == 6 and data.x.shape == (n, ATOM_FEATURE_DIM)
    assert data.edge_index.shape == (2, n * (n - 1)) and data.edge_attr.shape[1] == BOND_FEATURE_DIM
    assert data.x.dtype == torch.float32 and data.pos.dtype == torch.float32
    assert data.y.shape == (1, 1) and int(data.mol_idx) == 5 and int(data.conf_idx) == 1
    np.testing.assert_allclose(data.pos.numpy(), phenol.coords[1], atol=1e-6)
    bonded = data.edge_attr[:, 0] == 0
    assert int(bonded.sum()) == 2 * 13  # 13 bonds incl. C-H and O-H, both directions
    assert int(data.edge_attr[:, 4].sum()) == 12  # 6 aromatic bonds x 2
    assert torch.all(data.edge_attr[data.edge_attr[:, 4] == 1, -1] == 1)  # ring


def test_implicit_hydrogens_keep_heavy_atom_coordinates(phenol):
    data = MolFeaturizer(phenol.mol, {"hydrogens": "implicit"}).graph(phenol.coords[0], [], 0, 0)
    validate_data(data, num_tasks=0)
    heavy = [a.GetIdx() for a in phenol.mol.GetAtoms() if a.GetAtomicNum() > 1]
    assert data.z.tolist() == [8] + [6] * 6
    np.testing.assert_allclose(data.pos.numpy(), phenol.coords[0][heavy], atol=1e-6)
    assert data.edge_index.shape == (2, 42)
    oxygen = phenol.mol.GetAtomWithIdx(0)
    assert data.x[0].tolist() == atom_features(oxygen)
    assert data.x[0, 11 + 1 + 7 + 6 + 8 + 1] == 1.0  # one hydrogen on the oxygen


def test_cutoff_and_max_neighbors():
    pos = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [2.5, 0, 0], [10.0, 0, 0]])
    assert radius_edges(pos).shape == (2, 12)
    edges = radius_edges(pos, cutoff=2.0)
    assert sorted(map(tuple, edges.t().tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1)]
    capped = radius_edges(pos, max_neighbors=1)
    assert capped.shape == (2, 4)
    assert capped.t().tolist() == [[1, 0], [0, 1], [1, 2], [2, 3]]  # (source, target)


def test_chirality_tag_feature():
    graphs, errors = smiles_to_graphs(
        ["C[C@H](N)C(=O)O", "C[C@@H](N)C(=O)O"], CFG, {"hydrogens": "implicit"}, num_workers=1
    )
    assert errors == [None, None]
    tags = [g[0].x[:, -4:-1].sum(0) for g in graphs]
    assert tags[0][1:].sum() == 1 and tags[1][1:].sum() == 1
    assert not torch.equal(tags[0], tags[1])


def test_smiles_to_graphs_errors_in_order():
    graphs, errors = smiles_to_graphs(
        ["CCO", "not a smiles", "CCN"],
        CFG,
        {"hydrogens": "implicit", "cutoff": 5.0},
        num_workers=1,
        targets=np.array([[1.0], [2.0], [np.nan]]),
        mol_indices=[10, 11, 12],
    )
    assert [len(g) for g in graphs] == [2, 0, 2]
    assert errors == [None, "invalid SMILES: RDKit could not parse 'not a smiles'", None]
    assert int(graphs[2][1].mol_idx) == 12 and torch.isnan(graphs[2][0].y).all()
    for data in graphs[0] + graphs[2]:
        validate_data(data, num_tasks=1)


def test_featurizer_defaults_are_graph_config_defaults(phenol):
    """The featurizer has no defaults of its own: missing keys take GraphConfig's."""
    assert MolFeaturizer(phenol.mol, {}).cfg == GraphConfig()
    assert MolFeaturizer(phenol.mol, None).cfg == GraphConfig()
    assert MolFeaturizer(phenol.mol, {"hydrogens": "explicit"}).cfg.cutoff == GraphConfig.cutoff


def test_bad_graph_config():
    with pytest.raises(InputError) as info:
        MolFeaturizer(None, {"hydrogens": "some"})
    assert str(info.value) == (
        "graph.hydrogens: received 'some'; expected one of ('explicit', 'implicit')"
    )


def test_bonds_are_always_edges(phenol):
    feat = MolFeaturizer(phenol.mol, {"hydrogens": "explicit", "cutoff": 0.5, "max_neighbors": 1})
    data = feat.graph(phenol.coords[0], [], 0, 0)
    assert data.edge_index.shape[1] == 2 * 13 and torch.all(data.edge_attr[:, 0] == 0)
