"""The training-set distance part: fingerprints, Tanimoto distance, its fitted weight."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from molprop.exceptions import ArtifactError, InputError
from molprop.uncertainty.calibration import Calibration, fit_calibration, fit_distance_weight
from molprop.uncertainty.domain import (
    NUM_BITS,
    RADIUS,
    load_fingerprints,
    save_fingerprints,
    smiles_fingerprints,
    train_distance,
)

TRAIN = ["CCO", "CCCCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C1CCCCC1N"]
QUERY = ["CCO", "CCCCCCO", "c1ccccc1CC", "O=C(O)c1ccccc1", "not a smiles", "[Na+]"]


def test_distance_is_one_minus_the_largest_rdkit_tanimoto():
    train, _ = smiles_fingerprints(TRAIN)
    packed, valid = smiles_fingerprints(QUERY)
    got = train_distance(packed, train, valid)
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=RADIUS, fpSize=NUM_BITS)
    ref = [gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in TRAIN]
    for i, smi in enumerate(QUERY):
        mol = Chem.MolFromSmiles(smi) if smi != "not a smiles" else None
        if mol is None:
            assert not valid[i] and np.isnan(got[i])
            continue
        want = 1.0 - max(DataStructs.BulkTanimotoSimilarity(gen.GetFingerprint(mol), ref))
        assert got[i] == pytest.approx(want, abs=1e-12), smi
    assert got[0] == 0.0  # a training molecule
    assert got[5] == 1.0  # shares no bit with any training molecule


def test_fingerprints_round_trip_and_refuse_bad_files(tmp_path):
    train, _ = smiles_fingerprints(TRAIN)
    path = save_fingerprints(tmp_path / "fp.safetensors", train)
    np.testing.assert_array_equal(load_fingerprints(path), train)
    with pytest.raises(ArtifactError, match="missing"):
        load_fingerprints(tmp_path / "absent.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"\x80\x04not safetensors")
    with pytest.raises(ArtifactError, match="unreadable"):
        load_fingerprints(tmp_path / "bad.safetensors")
    with pytest.raises(InputError, match="expected uint8"):
        train_distance(train.astype(np.float32), train)


def test_weight_recovers_the_variance_that_grows_with_distance():
    rng = np.random.default_rng(0)
    n, true_weight = 4000, 4.0
    distance = rng.uniform(0, 1, n)
    std = np.full(n, 0.3)
    residual = rng.normal(0, np.sqrt(std**2 + true_weight * distance))
    weight = fit_distance_weight(residual, std, distance, 0.05)
    assert 0.7 * true_weight < weight < 1.4 * true_weight
    # residuals that ignore the distance: no weight, or one too small to matter
    flat = rng.normal(0, 0.3, n)
    assert fit_distance_weight(flat, std, distance, 0.05) < 0.01


def test_calibration_with_distance_applies_it_and_old_records_load():
    rng = np.random.default_rng(1)
    n = 500
    distance = rng.uniform(0, 1, n)
    std = rng.uniform(0.2, 0.4, n)
    target = rng.normal(0, np.sqrt(std**2 + 2.0 * distance))
    cal = fit_calibration(np.zeros(n), std, target, "y", distance=distance)
    assert cal.distance_weight > 0
    sigma, lower, upper = cal.apply(np.zeros(n), std, distance=distance)
    raw = np.sqrt(std**2 + cal.distance_weight * distance)
    expected = cal.scale * np.maximum(raw, cal.std_floor)
    np.testing.assert_allclose(sigma, expected)
    assert np.mean((target >= lower) & (target <= upper)) == pytest.approx(0.9, abs=0.02)
    # distant molecules get wider intervals than close ones with the same std
    near, far = cal.apply(np.zeros(2), np.array([0.3, 0.3]), distance=np.array([0.0, 1.0]))[0]
    assert far > 2 * near
    with pytest.raises(InputError, match="received no distances"):
        cal.apply(np.zeros(n), std)
    stored = cal.to_dict()
    assert Calibration.from_dict(stored) == cal
    stored.pop("distance_weight")  # a record written before the distance part
    assert Calibration.from_dict(stored).distance_weight == 0.0


def test_blocks_of_queries_and_training_molecules_give_the_same_distances(monkeypatch):
    from molprop.uncertainty import domain

    train, _ = smiles_fingerprints(TRAIN * 3)
    packed, valid = smiles_fingerprints(QUERY)
    whole = train_distance(packed, train, valid)
    monkeypatch.setattr(domain, "_CHUNK", 2)
    monkeypatch.setattr(domain, "_REF_CHUNK", 4)  # 15 training rows: 4 blocks, the last of 3
    np.testing.assert_array_equal(train_distance(packed, train, valid), whole)
