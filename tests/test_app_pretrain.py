"""Pretraining: the descriptor table, ``molprop pretrain`` end to end, ``model.init_from``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import SMILES, TINY, compose_train, hydra_main
from safetensors.torch import load_file

from molprop.artifacts import load_spec
from molprop.cli import main as cli_main
from molprop.data.descriptors import rdkit2d_names
from molprop.exceptions import InputError
from molprop.model import PropertyModel
from molprop.train.init_from import FinetuneConfig, load_backbone
from molprop.train.pretrain import build_pretrain_table

CORPUS = SMILES[:16]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus.csv"
    pd.DataFrame({"smiles": CORPUS, "source_row": range(len(CORPUS))}).to_csv(path, index=False)
    return path


def test_table_has_scaled_descriptors(corpus, tmp_path):
    out = build_pretrain_table(corpus, tmp_path / "t.csv", size=12)
    table = pd.read_csv(out)
    names = rdkit2d_names()
    assert list(table.columns) == ["smiles", *names]
    assert table.smiles.tolist() == CORPUS[:12]
    values = table[names].to_numpy()
    assert np.isfinite(values).all()
    # standardised: each varying column has mean ~0 and std ~1 (before clipping effects)
    varying = values.std(axis=0) > 0
    assert varying.sum() > 100
    assert np.abs(values[:, varying].mean(axis=0)).max() < 1e-4
    scaler = json.loads((tmp_path / "t.scaler.json").read_text())
    assert scaler["names"] == names and len(scaler["mean"]) == len(names)
    with pytest.raises(InputError, match="pretrain.size: received 0"):
        build_pretrain_table(corpus, tmp_path / "u.csv", size=0)


@pytest.fixture(scope="module")
def pretrained(corpus, cache_dir, tmp_path_factory):
    """``molprop pretrain`` on 16 molecules, 1 epoch, model=tiny, with denoising."""
    root = tmp_path_factory.mktemp("pretrain")
    overrides = [
        *TINY,
        "trainer.max_epochs=1",
        f"pretrain.corpus={corpus}",
        f"pretrain.table={root / 'table.csv'}",
        "pretrain.size=16",
        "data.split_sizes=[0.75,0.125,0.125]",
        f"paths.cache_dir={cache_dir}",
        f"hydra.run.dir={root / 'run'}",
    ]
    from molprop.train import plots

    # in-process (`python -m molprop` itself is run by test_app_cli.py); the parity and
    # calibration plots of the 217 tasks draw 2 panels instead of MAX_PANELS (their cap is
    # test_parity_plot_of_many_tasks_is_bounded's): rendering would be most of the test
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plots, "MAX_PANELS", 2)
        assert hydra_main(cli_main.main, ["pretrain", *overrides]) == 0
    return root / "run"


def test_pretrain_end_to_end(pretrained):
    spec = load_spec(pretrained)
    assert spec.task_names == rdkit2d_names() and spec.task == "regression"
    metrics = pd.read_csv(next(pretrained.glob("**/metrics.csv")))
    for column in ("train/denoise_loss_epoch", "val/denoise_loss", "val/rmse"):
        assert metrics[column].notna().any(), column
    assert (pretrained / "checkpoints" / "last.ckpt").is_file()
    assert (pretrained / "parity.png").is_file() and (pretrained / "calibration.png").is_file()
    assert (pretrained / "losses.png").stat().st_size > 1000


def test_init_from_copies_backbone(pretrained):
    spec = load_spec(pretrained)
    state = load_file(str(pretrained / "model" / "member_0.safetensors"))
    kwargs = {k: v for k, v in spec.backbone.items() if k != "out_dim"}
    torch.manual_seed(1)
    model = PropertyModel(kwargs, ["a", "b"])  # another task count: a new head
    fresh_head = {k: v.clone() for k, v in model.backbone.head.state_dict().items()}
    skipped = load_backbone(model, pretrained / "model")
    assert skipped and all(name.startswith("head.") for name in skipped)
    for name, tensor in model.backbone.state_dict().items():
        if name.startswith("head."):
            assert torch.equal(tensor, fresh_head[name.removeprefix("head.")])
        else:
            assert torch.equal(tensor, state[f"backbone.{name}"]), name
    same = PropertyModel(kwargs, spec.task_names)
    assert load_backbone(same, pretrained) == []
    assert torch.equal(same.backbone.head[2].weight, state["backbone.head.2.weight"])


def test_init_from_rejects_other_backbone(pretrained):
    spec = load_spec(pretrained)
    kwargs = {**spec.backbone, "channels": spec.backbone["channels"] * 2}
    with pytest.raises(InputError, match="backbone kwarg 'channels' is 8 there but 16 here"):
        load_backbone(PropertyModel(kwargs, ["y"]), pretrained)
    with pytest.raises(InputError, match="model.init_from="):
        load_backbone(PropertyModel(kwargs, ["y"]), pretrained / "nothing")


def test_finetune_config_reads_model_keys():
    cfg = compose_train(["model.init_from=some/dir", "model.backbone_lr_scale=0.1"]).model
    assert FinetuneConfig.from_model_cfg(cfg) == FinetuneConfig("some/dir", False, 0.1)
    assert FinetuneConfig.from_model_cfg(compose_train([]).model) == FinetuneConfig()
    with pytest.raises(InputError, match="backbone_lr_scale: received -1"):
        FinetuneConfig.from_model_cfg(compose_train(["model.backbone_lr_scale=-1"]).model)
    with pytest.raises(InputError, match="freeze_backbone: received 'yes'"):
        FinetuneConfig.from_model_cfg(compose_train(["model.freeze_backbone=yes"]).model)


def test_build_module_fine_tunes_from_pretrained(pretrained):
    from types import SimpleNamespace

    from molprop.train.run import build_module

    spec = load_spec(pretrained)
    cfg = compose_train([*TINY, f"model.init_from={pretrained}", "model.freeze_backbone=true"])
    dm = SimpleNamespace(
        atom_dim=spec.backbone["in_dim"],
        edge_dim=spec.backbone["edge_dim"],
        descriptor_dim=0,
        task_names=["logp"],
        task="regression",
        scaler_mean=[0.0],
        scaler_std=[1.0],
        bagging_cfg=SimpleNamespace(aggregate="mean"),
    )
    module = build_module(cfg, dm, ("val/rmse", "min"))
    state = load_file(str(pretrained / "model" / "member_0.safetensors"))
    for name, param in module.model.backbone.named_parameters():
        if not name.startswith("head."):
            assert torch.equal(param, state[f"backbone.{name}"]) and not param.requires_grad
        else:
            assert param.requires_grad


def test_parity_plot_of_many_tasks_is_bounded(tmp_path, monkeypatch):
    """A 217-task pretraining run plots MAX_PANELS panels, not a 220-inch figure."""
    from matplotlib.image import imread

    from molprop.train import plots

    monkeypatch.setattr(plots, "MAX_PANELS", 4)  # the cap, not its value, is under test
    names = [f"d{i}" for i in range(plots.MAX_PANELS + 4)]
    columns = {}
    for name in names:
        columns.update(
            {f"{name}_true": [0.0, 1.0], name: [0.1, 0.9], f"{name}_conformer_std": [0, 0]}
        )
    path = plots.parity_plot(pd.DataFrame(columns), names, tmp_path / "parity.png")
    height = imread(path).shape[0]
    many = plots.parity_plot(pd.DataFrame(columns), names[: plots.MAX_PANELS], tmp_path / "cap.png")
    assert height == imread(many).shape[0]
