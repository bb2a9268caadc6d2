"""Molecule-level descriptors end to end: config, datamodule, descriptor head, model/, predict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import SMILES, compose_train, csv_overrides
from rdkit import Chem
from rdkit.Chem import Descriptors

from molprop import artifacts
from molprop.columns import ERROR_COLUMN
from molprop.data.datamodule import MolDataModule
from molprop.data.descriptors import DescriptorScaler, rdkit2d_names
from molprop.data.featurize import ATOM_FEATURE_DIM, BOND_FEATURE_DIM
from molprop.data.keys import MOL_FEATURES
from molprop.exceptions import InputError
from molprop.inference.stream import predict
from molprop.model import PropertyModel
from molprop.train.run import train

BLANK_ROW = 3  # the user descriptor 'mw' is blank (missing) in this row
BACKBONE = dict(
    in_dim=ATOM_FEATURE_DIM,
    edge_dim=BOND_FEATURE_DIM,
    num_layers=1,
    max_degree=1,
    channels=4,
    num_heads=2,
    radial_hidden=8,
    num_radial=6,
    head_hidden=8,
)


@pytest.fixture(scope="module")
def desc_csv(tiny_csv, tmp_path_factory) -> Path:
    """The tiny CSV plus a numeric user descriptor column 'mw' (one blank cell)."""
    frame = pd.read_csv(tiny_csv)
    mw = [f"{Descriptors.MolWt(Chem.MolFromSmiles(s)):.3f}" for s in frame["smiles"]]
    mw[BLANK_ROW] = ""
    frame["mw"] = mw
    path = tmp_path_factory.mktemp("desc") / "desc.csv"
    frame.to_csv(path, index=False)
    return path


def _overrides(csv: Path, run_dir: Path, cache: Path, extra: list[str]) -> list[str]:
    # no explicit targets: the descriptor column must not be picked as a default target
    base = [o for o in csv_overrides(csv, run_dir, cache) if "target_columns" not in o]
    return base + ["trainer.max_epochs=1", *extra]


@pytest.fixture(scope="module")
def desc_run(desc_csv, cache_dir, tmp_path_factory) -> Path:
    """A tiny run with RDKit 2D descriptors and the user column 'mw'."""
    run_dir = tmp_path_factory.mktemp("desc_run")
    extra = ["features=rdkit2d", "data.descriptor_columns=[mw]"]
    train(compose_train(_overrides(desc_csv, run_dir, cache_dir, extra)))
    return run_dir


def test_run_stores_descriptors_fitted_on_train_rows(desc_run, desc_csv):
    spec = json.loads((desc_run / "model" / "model.json").read_text())
    assert spec["task_names"] == ["logp"]  # 'mw' is a descriptor, not a default target
    state = spec["descriptors"]
    assert state["rdkit2d"] == rdkit2d_names() and state["columns"] == ["mw"]
    assert len(state["scaler"]["mean"]) == len(rdkit2d_names()) + 1
    # the scaler of 'mw' is the one of the training rows, not of all rows
    mw = pd.to_numeric(pd.read_csv(desc_csv)["mw"], errors="coerce").to_numpy()
    train_rows = json.loads((desc_run / "splits.json").read_text())["train"]
    on_train = DescriptorScaler.fit(mw[train_rows, None])
    on_all = DescriptorScaler.fit(mw[:, None])
    assert state["scaler"]["mean"][-1] == pytest.approx(on_train.mean[0])
    assert state["scaler"]["std"][-1] == pytest.approx(on_train.std[0])
    assert abs(on_train.mean[0] - on_all.mean[0]) > 1e-6
    weights = artifacts.load_model(desc_run)[0].state_dict()
    width = spec["backbone"]["channels"] + len(state["scaler"]["mean"])
    assert weights["head.0.weight"].shape[1] == width  # [embedding, descriptors]


def test_predict_replays_training_descriptors(desc_run, desc_csv):
    """Predict on the training CSV reproduces the test predictions of training."""
    frame = predict(desc_run, input_path=desc_csv, workers=1)
    assert (frame[ERROR_COLUMN] == "").all()
    test = pd.read_csv(desc_run / "test_predictions.csv")
    np.testing.assert_allclose(frame.loc[test["row"], "logp"], test["logp"], atol=1e-5)
    # the descriptors are used: a changed user value changes that molecule's prediction
    changed = pd.read_csv(desc_csv, dtype=str, keep_default_na=False)
    changed.loc[0, "mw"] = "900"
    path = desc_csv.with_name("changed.csv")
    changed.to_csv(path, index=False)
    other = predict(desc_run, input_path=path, workers=1)
    assert other.loc[0, "logp"] != pytest.approx(frame.loc[0, "logp"], abs=1e-6)
    np.testing.assert_allclose(other.loc[1:, "logp"], frame.loc[1:, "logp"], atol=1e-6)


def test_predict_input_without_user_column_is_one_clear_error(desc_run, desc_csv, tmp_path):
    path = tmp_path / "no_mw.csv"
    pd.read_csv(desc_csv).drop(columns="mw").to_csv(path, index=False)
    with pytest.raises(InputError, match=r"descriptor column\(s\) \['mw'\] not found") as err:
        predict(desc_run, input_path=path, workers=1)
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="--smiles: descriptor column"):
        predict(desc_run, smiles=["CCO"], workers=1)
    # a bad cell in a later chunk names its row in the file
    rows = pd.read_csv(desc_csv, dtype=str, keep_default_na=False).iloc[:5]
    rows.loc[4, "mw"] = "heavy"
    rows.to_csv(tmp_path / "bad.csv", index=False)
    message = r"row 4 \(line 6\), descriptor column 'mw': value 'heavy'"
    with pytest.raises(InputError, match=message):
        predict(desc_run, input_path=tmp_path / "bad.csv", workers=1, chunk_size=2)


def _datamodule(csv: Path, cache: Path, **data) -> MolDataModule:
    return MolDataModule(
        {"path": str(csv), "target_columns": ["logp"], "split_sizes": [0.75, 0.125, 0.125], **data},
        {"pool_size": 2, "prune_rms": 0.0, "num_workers": 1},
        {},
        {"num_conformers": 2},
        cache_dir=str(cache),
        progress=False,
    )


def test_user_descriptor_checks(desc_csv, cache_dir, tmp_path):
    with pytest.raises(InputError, match=r"descriptor columns \['weight'\] not found"):
        _datamodule(desc_csv, cache_dir, descriptor_columns=["weight"]).setup()
    bad = pd.read_csv(desc_csv, dtype=str, keep_default_na=False)
    bad.loc[7, "mw"] = "n.d."
    bad.to_csv(tmp_path / "bad.csv", index=False)
    message = r"row 7 \(line 9\), descriptor column 'mw': value 'n.d.' is not a finite number"
    with pytest.raises(InputError, match=message):
        _datamodule(tmp_path / "bad.csv", cache_dir, descriptor_columns=["mw"]).setup()
    # a descriptor file with one row per input row; blank cells are missing (scaled to 0)
    values = pd.DataFrame({"ring": [float(i % 3) for i in range(len(SMILES))]})
    values.loc[BLANK_ROW, "ring"] = np.nan
    values.to_csv(tmp_path / "extra.csv", index=False)
    dm = _datamodule(
        desc_csv, cache_dir, descriptor_columns=["mw"], descriptors_path=str(tmp_path / "extra.csv")
    )
    dm.setup()
    assert dm.descriptors.columns == ["mw", "ring"] and dm.descriptor_dim == 2
    graphs = dm.loader([BLANK_ROW, 0]).dataset
    blank = [g for g in graphs if int(g.mol_idx) == BLANK_ROW]
    assert blank and all(torch.equal(g[MOL_FEATURES], torch.zeros(1, 2)) for g in blank)
    batch = next(iter(dm.train_dataloader()))
    assert batch[MOL_FEATURES].shape == (batch.num_graphs, 2)
    assert batch[MOL_FEATURES].dtype == torch.float32


def _unused(model: PropertyModel, batch) -> tuple[torch.Tensor, set[str]]:
    out = model(batch)
    out.sum().backward()
    return out, {name for name, p in model.named_parameters() if p.grad is None}


def test_descriptor_head_uses_descriptors_and_adds_no_unused_parameter(desc_csv, cache_dir):
    dm = _datamodule(desc_csv, cache_dir, descriptor_columns=["mw"])
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    torch.manual_seed(0)
    model = PropertyModel({**BACKBONE}, ["logp"], descriptor_dim=1)
    out, unused = _unused(model, batch)
    assert out.shape == (batch.num_graphs, 1)
    # DDP: the descriptor model leaves no more parameters without gradient than the plain one
    # (the last block's degree-1 outputs are never read by the pooled invariant embedding)
    assert unused == _unused(PropertyModel({**BACKBONE}, ["logp"]), batch)[1]
    assert not any(name.startswith(("head.", "backbone.head.")) for name in unused)
    assert not any(name.startswith("backbone.head.") for name, _ in model.named_parameters())
    batch[MOL_FEATURES] = batch[MOL_FEATURES] + 1.0
    assert not torch.allclose(model(batch), out)


def test_old_model_dir_without_descriptors_loads(tmp_path):
    torch.manual_seed(0)
    model = PropertyModel({**BACKBONE, "head_hidden": 8}, ["y"])
    names = set(model.state_dict())
    assert {"backbone.head.0.weight", "backbone.head.2.weight"} <= names  # as before
    assert not any(n.startswith("head.") for n in names)
    spec = artifacts.ModelSpec("regression", ["y"], model.backbone_kwargs, [0.0], [1.0])
    artifacts.save_spec(tmp_path, spec)
    artifacts.save_member(tmp_path, 0, model)
    raw = json.loads((tmp_path / "model" / "model.json").read_text())
    raw.pop("descriptors")  # written before descriptors existed
    (tmp_path / "model" / "model.json").write_text(json.dumps(raw))
    loaded = artifacts.load_model(tmp_path)[0]
    assert loaded.spec.descriptors is None and loaded.descriptor_dim == 0
    frame = predict(tmp_path, smiles=["CCO"], workers=1)
    assert frame[ERROR_COLUMN].tolist() == [""]
