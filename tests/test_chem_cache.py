"""Conformer cache: warm runs embed nothing, corrupt entries and partial files are handled."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from molprop.chem import cache as cache_module
from molprop.chem import conformers as conformers_module
from molprop.chem.cache import ConformerCache, cache_key
from molprop.chem.config import ConformerConfig
from molprop.chem.conformers import generate_conformers

SMILES = ["CCO", "CCCCO", "c1ccccc1O"]
CFG = ConformerConfig(pool_size=2, seed=3)


@pytest.fixture
def counter(monkeypatch):
    calls = []
    real = conformers_module.embed_molecule

    def counting(smiles, cfg):
        calls.append(smiles)
        return real(smiles, cfg)

    monkeypatch.setattr(conformers_module, "embed_molecule", counting)
    return calls


def test_warm_cache_embeds_nothing_and_returns_same_coordinates(tmp_path, counter):
    cold = generate_conformers(SMILES, CFG, num_workers=1, cache_dir=tmp_path)
    assert counter == SMILES and not any(r.cached for r in cold)
    warm = generate_conformers(SMILES, CFG, num_workers=1, cache_dir=tmp_path)
    assert counter == SMILES  # no new call
    assert all(r.cached for r in warm)
    for a, b in zip(cold, warm, strict=True):
        assert a.ensemble.coords.tobytes() == b.ensemble.coords.tobytes()
        np.testing.assert_array_equal(a.ensemble.energies, b.ensemble.energies)
        assert a.ensemble.mol.ToBinary() == b.ensemble.mol.ToBinary()


def test_pool_workers_fill_the_cache(tmp_path):
    generate_conformers(SMILES, CFG, num_workers=2, cache_dir=tmp_path)
    warm = generate_conformers(SMILES, CFG, num_workers=2, cache_dir=tmp_path)
    assert all(r.cached for r in warm)


def test_settings_change_the_key():
    base = cache_key("CCO", CFG.cache_settings())
    assert base != cache_key("CCO", ConformerConfig(pool_size=3, seed=3).cache_settings())
    assert base != cache_key("CCO", ConformerConfig(pool_size=2, seed=4).cache_settings())
    assert base == cache_key(
        "CCO", ConformerConfig(pool_size=2, seed=3, timeout=5).cache_settings()
    )


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_entry_is_logged_and_regenerated(tmp_path, counter, caplog, damage):
    first = generate_conformers(["CCCCO"], CFG, num_workers=1, cache_dir=tmp_path)
    path = ConformerCache(tmp_path).path(cache_key("CCCCO", CFG.cache_settings()))
    data = path.read_bytes()
    path.write_bytes(
        {"truncate": data[: len(data) // 2], "garbage": b"x" * 100, "empty": b""}[damage]
    )
    with caplog.at_level(logging.WARNING, logger="molprop.chem.cache"):
        again = generate_conformers(["CCCCO"], CFG, num_workers=1, cache_dir=tmp_path)
    assert "is unreadable" in caplog.text and str(path) in caplog.text
    assert len(counter) == 2 and not again[0].cached
    assert again[0].ensemble.coords.tobytes() == first[0].ensemble.coords.tobytes()
    assert generate_conformers(["CCCCO"], CFG, num_workers=1, cache_dir=tmp_path)[0].cached


def test_partial_tmp_file_of_killed_writer_is_ignored(tmp_path, counter):
    key = cache_key("CCO", CFG.cache_settings())
    final = ConformerCache(tmp_path).path(key)
    final.parent.mkdir(parents=True)
    partial = final.parent / f".{key}.12345.deadbeef.tmp"
    partial.write_bytes(b"PK\x03\x04 half written")
    result = generate_conformers(["CCO"], CFG, num_workers=1, cache_dir=tmp_path)
    assert result[0].error is None and not result[0].cached and counter == ["CCO"]
    assert final.is_file()
    assert generate_conformers(["CCO"], CFG, num_workers=1, cache_dir=tmp_path)[0].cached


def test_save_is_atomic_replace(tmp_path, monkeypatch):
    """A writer killed before the rename leaves no final entry, only its temporary file."""
    cache = ConformerCache(tmp_path)
    ens = generate_conformers(["CCO"], CFG, num_workers=1)[0].ensemble
    key = cache_key("CCO", CFG.cache_settings())

    def killed(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_module.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        cache.save(key, ens)
    assert not cache.path(key).exists()
    assert cache.load(key, "CCO") is None


def test_failures_are_cached(tmp_path, monkeypatch, counter):
    from molprop.chem import embed as embed_module

    monkeypatch.setattr(embed_module.rdDistGeom, "EmbedMultipleConfs", lambda m, n, p: [])
    first = generate_conformers(["CCO"], CFG, num_workers=1, cache_dir=tmp_path)
    second = generate_conformers(["CCO"], CFG, num_workers=1, cache_dir=tmp_path)
    assert first[0].error == second[0].error and first[0].error.startswith("embedding failed")
    assert second[0].cached and counter == ["CCO"]
