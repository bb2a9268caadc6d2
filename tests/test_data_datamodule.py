"""MolDataModule end to end on a tiny CSV: skipped rows, splits, scaler, loaders, caching."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from molprop.data.datamodule import MolDataModule
from molprop.data.featurize import ATOM_FEATURE_DIM, BOND_FEATURE_DIM
from molprop.data.keys import validate_data
from molprop.exceptions import TooManySkippedError

SMILES = [
    "CCO",
    "CCCO",
    "CCCCO",
    "c1ccccc1O",
    "c1ccccc1N",
    "Cc1ccccc1",
    "C1CCCCC1O",
    "C1CCCCC1N",
    "c1ccncc1",
    "CC(=O)O",
    "CCN",
    "C1CCOC1",
    "c1ccoc1",
    "CCOC",
    "CC(C)O",
    "C1CCNCC1",
    "c1ccsc1",
    "CC(=O)N",
    "OCCO",
    "xx-not-smiles",
]
CONF = {"pool_size": 3, "prune_rms": 0.0, "optimize": "mmff", "num_workers": 1}
GRAPH = {"hydrogens": "implicit", "cutoff": None, "max_neighbors": None}


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("dm") / "tiny.csv"
    y = np.arange(len(SMILES), dtype=float)
    label = (np.arange(len(SMILES)) % 2).astype(float)
    y[3] = np.nan
    pd.DataFrame(
        {"smiles": SMILES, "name": [f"m{i}" for i in range(len(SMILES))], "y": y, "label": label}
    ).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def make(csv, cache, run_dir, **kw):
    data = {
        "path": str(csv),
        "target_columns": ["y"],
        "task": "regression",
        "split": "scaffold",
        "split_sizes": [0.6, 0.2, 0.2],
        "max_skipped_fraction": 0.1,
        **kw.pop("data", {}),
    }
    bagging = {"num_conformers": 2, "train_sampling": "sample", **kw.pop("bagging", {})}
    dm = MolDataModule(
        data,
        CONF,
        kw.pop("graph", GRAPH),
        bagging,
        batch_size=4,
        cache_dir=str(cache),
        run_dir=str(run_dir),
        progress=False,
        **kw,
    )
    dm.setup()
    return dm


def mols(loader):
    return [int(i) for batch in loader for i in batch.mol_idx]


def test_setup_outputs_and_loaders(csv, cache, tmp_path):
    dm = make(csv, cache, tmp_path)
    assert dm.task == "regression" and dm.task_names == ["y"]
    assert dm.carried_columns == ["name", "label"] and dm.smiles_column == "smiles"
    assert (dm.atom_dim, dm.edge_dim) == (ATOM_FEATURE_DIM, BOND_FEATURE_DIM)
    skipped = pd.read_csv(tmp_path / "skipped.csv")
    assert skipped.to_dict("records") == [
        {
            "row": 19,
            "smiles": "xx-not-smiles",
            "reason": "invalid SMILES: RDKit could not parse 'xx-not-smiles'",
        }
    ]
    split = json.loads((tmp_path / "splits.json").read_text())
    assert split == dm.split
    assert sorted(sum(split.values(), [])) == list(range(19))
    # no molecule crosses splits; val/test carry all K=2 conformers of each molecule
    seen = {name: mols(getattr(dm, f"{name}_dataloader")()) for name in ("val", "test")}
    seen["train"] = mols(dm.train_dataloader())
    for name in ("train", "val", "test"):
        assert set(seen[name]) == set(split[name])
    assert sorted(seen["val"]) == sorted(split["val"] * 2)
    assert sorted(seen["train"]) == sorted(split["train"])  # "sample": one per molecule
    batch = next(iter(dm.test_dataloader()))
    assert batch.y.shape == (batch.num_graphs, 1) and batch.mol_idx.shape == (batch.num_graphs,)
    validate_data(dm.dataset[0], num_tasks=1)
    # raw y in batches; NaN-aware scaler fitted on train rows only
    train_y = np.array([r for r in split["train"] if r != 3], dtype=float)
    assert dm.scaler_mean.shape == (1,) and dm.scaler_mean.dtype == torch.float32
    assert dm.scaler_mean.item() == pytest.approx(train_y.mean(), rel=1e-5)
    assert dm.scaler_std.item() == pytest.approx(train_y.std(), rel=1e-5)
    frame = dm.split_frame("test")
    assert list(frame.columns) == ["row", "smiles", "name", "label", "y"]
    assert frame["row"].tolist() == split["test"]


def test_train_sampling_changes_per_epoch_and_all_mode(csv, cache, tmp_path):
    dm = make(csv, cache, tmp_path)
    loader = dm.train_dataloader()
    epochs = [
        [(int(m), int(c)) for b in loader for m, c in zip(b.mol_idx, b.conf_idx, strict=True)]
        for _ in range(3)
    ]
    assert len({tuple(sorted(e)) for e in epochs}) > 1
    sampler = loader.sampler
    sampler.set_epoch(1)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) == first  # resumable: the epoch fixes the draw
    dm_all = make(csv, cache, tmp_path, bagging={"train_sampling": "all"})
    assert sorted(mols(dm_all.train_dataloader())) == sorted(dm_all.split["train"] * 2)


def test_bootstrap_resamples_training_molecules(csv, cache, tmp_path):
    dm = make(csv, cache, tmp_path, bootstrap_seed=1)
    drawn = mols(dm.train_dataloader())
    assert len(drawn) == len(dm.split["train"]) and set(drawn) <= set(dm.split["train"])
    assert len(set(drawn)) < len(drawn)


def test_classification_scaler_identity(csv, cache, tmp_path):
    dm = make(csv, cache, tmp_path, data={"target_columns": ["label"], "task": "classification"})
    assert dm.task == "classification"
    assert dm.scaler_mean.tolist() == [0.0] and dm.scaler_std.tolist() == [1.0]


def test_processed_file_reused_and_invalidated(csv, cache, tmp_path):
    make(csv, cache, tmp_path)
    processed = cache / "datasets" / "tiny" / "processed"
    before = set(processed.glob("graphs_*.safetensors"))
    assert before and not list(processed.glob("*.pt"))
    make(csv, cache, tmp_path)
    assert set(processed.glob("graphs_*.safetensors")) == before
    explicit = make(csv, cache, tmp_path, graph={"hydrogens": "explicit"})
    assert len(set(processed.glob("graphs_*.safetensors"))) == len(before) + 1
    assert 1 in explicit.dataset[0].z.tolist()


def test_too_many_skipped_stops(csv, cache, tmp_path):
    with pytest.raises(TooManySkippedError) as info:
        make(csv, cache, tmp_path, data={"max_skipped_fraction": 0.01})
    assert str(info.value) == (
        f"Input file '{csv}': 1 of 20 molecules (5.0%) could not be used, more than "
        "data.max_skipped_fraction=0.01; first: row 19, SMILES 'xx-not-smiles': invalid SMILES: "
        "RDKit could not parse 'xx-not-smiles'. Fix the input or raise data.max_skipped_fraction"
    )
    assert (tmp_path / "skipped.csv").is_file()


def test_file_split_drops_skipped_rows(csv, cache, tmp_path):
    split_path = tmp_path / "split.json"
    split_path.write_text(
        json.dumps(
            {"s": {"train": list(range(12)), "val": [12, 13, 14], "test": [15, 16, 17, 18, 19]}}
        )
    )
    dm = make(
        csv,
        cache,
        tmp_path,
        data={"split": "file", "split_file": str(split_path), "split_key": "s"},
    )
    assert dm.split["test"] == [15, 16, 17, 18]  # skipped row 19 dropped
