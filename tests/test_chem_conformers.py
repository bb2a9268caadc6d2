"""Conformer generation: determinism, stereochemistry, fallbacks, failures."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem

from molprop.chem import embed as embed_module
from molprop.chem.config import ConformerConfig
from molprop.chem.conformers import generate_conformers
from molprop.chem.embed import EmbeddingError, embed_molecule, kabsch_rmsd
from molprop.chem.molecules import MoleculeError, molecule_seed, prepare_smiles
from molprop.exceptions import InputError

SMILES = ["CCO", "CCCCCCO", "c1ccccc1C(=O)O", "C[C@H](N)C(=O)O", "OCC1OC(O)C(O)C1O", "CCN(CC)CC"]


def canonical(smiles):
    return [prepare_smiles(s) for s in smiles]


def test_config_from_dict_validates():
    cfg = ConformerConfig.from_dict({"pool_size": 3, "num_workers": 4, "optimize": "UFF"})
    assert cfg.pool_size == 3 and cfg.num_workers == 4 and cfg.optimize == "uff"
    assert "timeout" not in cfg.cache_settings() and "num_workers" not in cfg.cache_settings()
    with pytest.raises(InputError) as info:
        ConformerConfig(optimize="gaff")
    assert str(info.value) == (
        "conformers.optimize: received 'gaff'; expected one of ('mmff', 'uff', 'none')"
    )


def test_bit_identical_for_1_and_2_workers_and_any_order():
    cfg = ConformerConfig(pool_size=3, seed=7)
    smiles = canonical(SMILES)
    one = generate_conformers(smiles, cfg, num_workers=1)
    two = generate_conformers(smiles, cfg, num_workers=2)
    rev = generate_conformers(smiles[::-1], cfg, num_workers=2)[::-1]
    for a, b, c in zip(one, two, rev, strict=True):
        assert a.error is None and len(a.ensemble) >= 1
        assert a.ensemble.coords.tobytes() == b.ensemble.coords.tobytes()
        assert a.ensemble.coords.tobytes() == c.ensemble.coords.tobytes()
        np.testing.assert_array_equal(a.ensemble.energies, b.ensemble.energies)


def test_seed_changes_coordinates_and_depends_on_molecule_only():
    assert molecule_seed(0, "CCO") == molecule_seed(0, "CCO") != molecule_seed(1, "CCO")
    a = embed_molecule("CCCCCCO", ConformerConfig(pool_size=1, seed=0))
    b = embed_molecule("CCCCCCO", ConformerConfig(pool_size=1, seed=1))
    assert not np.array_equal(a.coords, b.coords)


def test_input_spelling_does_not_change_coordinates():
    assert prepare_smiles("OCC") == prepare_smiles("C(O)C") == "CCO"


def test_energies_sorted_fewer_than_k_recorded_and_pruned():
    ens = embed_molecule("CCCCCCO", ConformerConfig(pool_size=3, prune_rms=0.5))
    assert ens.coords.shape == (len(ens), 21, 3) and ens.coords.dtype == np.float64
    assert ens.num_requested == 3 and ens.method == "mmff"
    assert np.all(np.diff(ens.energies) >= 0)
    heavy = [a.GetIdx() for a in ens.mol.GetAtoms() if a.GetAtomicNum() > 1]
    for i in range(len(ens)):
        for j in range(i):
            assert kabsch_rmsd(ens.coords[i, heavy], ens.coords[j, heavy]) > 0.5
    small = embed_molecule("C", ConformerConfig(pool_size=3))
    assert len(small) == 1 and small.num_requested == 3


def test_optimize_none_keeps_nan_energies():
    ens = embed_molecule("CCO", ConformerConfig(pool_size=2, optimize="none", prune_rms=0))
    assert ens.method == "none" and len(ens) == 2 and np.isnan(ens.energies).all()


def test_mmff_falls_back_to_uff():
    ens = embed_molecule("OB(O)c1ccccc1", ConformerConfig(pool_size=1))
    assert ens.method == "uff" and np.isfinite(ens.energies).all()


@pytest.mark.parametrize("smiles", ["C[C@H](N)C(=O)O", "C[C@@H](N)C(=O)O", "F[C@](Cl)(Br)C=C"])
def test_chirality_kept_in_3d(smiles):
    written = Chem.FindMolChiralCenters(Chem.MolFromSmiles(smiles), useLegacyImplementation=False)
    # the ensemble's atom order is that of the canonical SMILES
    expected = Chem.FindMolChiralCenters(
        Chem.MolFromSmiles(prepare_smiles(smiles)), useLegacyImplementation=False
    )
    assert [label for _, label in expected] == [label for _, label in written] != []
    ens = embed_molecule(prepare_smiles(smiles), ConformerConfig(pool_size=3, prune_rms=0))
    mol = ens.to_mol()
    for conf in mol.GetConformers():
        probe = Chem.Mol(mol, confId=conf.GetId())
        for atom in probe.GetAtoms():
            atom.SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
        Chem.AssignStereochemistryFrom3D(probe, confId=conf.GetId())
        got = Chem.FindMolChiralCenters(Chem.RemoveHs(probe), useLegacyImplementation=False)
        assert got == expected


def test_cis_trans_kept_in_3d():
    for smiles in ("C/C=C/C", "C/C=C\\C"):
        ens = embed_molecule(prepare_smiles(smiles), ConformerConfig(pool_size=1))
        probe = ens.to_mol()
        for bond in probe.GetBonds():
            bond.SetStereo(Chem.BondStereo.STEREONONE)
        Chem.AssignStereochemistryFrom3D(probe)
        assert Chem.MolToSmiles(Chem.RemoveHs(probe)) == prepare_smiles(smiles)


def test_invalid_smiles_reason():
    with pytest.raises(MoleculeError) as info:
        prepare_smiles("C1CC")
    assert str(info.value) == "invalid SMILES: RDKit could not parse 'C1CC'"
    assert prepare_smiles("CC(=O)[O-].[Na+]") == "CC(=O)[O-]"
    assert prepare_smiles("CC(=O)[O-].[Na+]", largest_fragment=False) == "CC(=O)[O-].[Na+]"


def test_embedding_failure_and_retry(monkeypatch):
    calls = []

    def never(mol, num, params):
        calls.append(params.useRandomCoords)
        return []

    monkeypatch.setattr(embed_module.rdDistGeom, "EmbedMultipleConfs", never)
    cfg = ConformerConfig(pool_size=2, max_attempts=0)
    results = generate_conformers(["CCO"], cfg, num_workers=1)
    assert calls == [False, True]
    assert results[0].ensemble is None
    assert results[0].error == (
        "embedding failed: ETKDGv3 produced no conformer in default attempts, also from "
        "random coordinates"
    )


def test_timeout_is_a_failure_not_partial_result():
    big = (
        "CC(C)C[C@H](NC(=O)[C@@H](Cc1ccccc1)NC(=O)[C@H](CCCCN)NC(=O)CN)C(=O)N[C@@H](CCC(N)=O)C(=O)O"
    )
    cfg = ConformerConfig(pool_size=300, timeout=1, optimize="none", prune_rms=0)
    with pytest.raises(EmbeddingError) as info:
        embed_molecule(prepare_smiles(big), cfg)
    assert str(info.value) == "embedding timed out after 1 s (conformers.timeout)"
    assert info.value.deterministic is False


def test_unexpected_rdkit_error_skips_only_that_molecule(monkeypatch):
    from molprop.chem import conformers as conformers_module

    real = conformers_module.embed_molecule

    def flaky(smiles, cfg):
        if smiles == "CCN":
            raise RuntimeError("boom")
        return real(smiles, cfg)

    monkeypatch.setattr(conformers_module, "embed_molecule", flaky)
    results = generate_conformers(["CCO", "CCN"], ConformerConfig(pool_size=1), num_workers=1)
    assert results[0].ensemble is not None
    assert results[1].error == "embedding failed: RuntimeError: boom"
