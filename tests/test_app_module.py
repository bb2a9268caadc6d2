"""LightningModule with a fake backbone: per-molecule metrics, scaler buffers, optimizers."""

import lightning.pytorch as pl
import pytest
import torch
from torch import nn
from torch_geometric.data import Batch, Data
from torch_geometric.loader import DataLoader

from molprop.lit.module import MolpropModule, unique_conformers
from molprop.lit.schedulers import plateau, warmup_cosine


class FakeBackbone(nn.Module):
    """forward(batch) -> batch.fake [B, T] plus a trainable offset (same API as SE3Transformer)."""

    def __init__(self, **kwargs):
        super().__init__()
        self.offset = nn.Parameter(torch.zeros(1))

    def forward(self, batch):
        return batch.fake + 0 * self.offset


class HalfBackbone(FakeBackbone):
    """Outputs bfloat16, as a backbone does under bf16-mixed autocast (``trainer=gpu``)."""

    def forward(self, batch):
        return super().forward(batch).to(torch.bfloat16)


def conformer_graph(mol, conf, value, target):
    n = 3
    return Data(
        z=torch.ones(n, dtype=torch.long),
        x=torch.randn(n, 4),
        pos=torch.randn(n, 3),
        edge_index=torch.tensor([[0, 1], [1, 0]]),
        edge_attr=torch.randn(2, 2),
        y=torch.tensor([[target]]),
        mol_idx=torch.tensor([mol]),
        conf_idx=torch.tensor([conf]),
        fake=torch.tensor([[value]]),
    )


def make_module(task="regression", **kwargs):
    return MolpropModule(
        {"in_dim": 4, "edge_dim": 2}, ["t"], task=task, backbone_module=FakeBackbone(), **kwargs
    )


def validate(module, graphs):
    trainer = pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    return trainer.validate(module, DataLoader(graphs, batch_size=3), verbose=False)[0]


def test_validation_metrics_are_per_molecule():
    # every conformer is off by +-1, but the conformer means hit the targets exactly
    graphs = []
    for mol, target in enumerate([1.0, 2.0, 4.0, 3.0]):
        graphs += [
            conformer_graph(mol, 0, target + 1, target),
            conformer_graph(mol, 1, target - 1, target),
        ]
    metrics = validate(make_module(aggregate="mean"), graphs)
    assert metrics["val/rmse"] == pytest.approx(0.0, abs=1e-6)
    assert metrics["val/r2"] == pytest.approx(1.0)
    assert metrics["val/loss"] == pytest.approx(1.0)  # the loss is per conformer


def test_loss_keeps_targets_in_float32_when_the_backbone_outputs_bf16():
    # bf16 spacing near 7 is 1/32: a bf16 target would round 7.01 to 7.0 and the loss to 0
    module = MolpropModule({"in_dim": 4, "edge_dim": 2}, ["t"], backbone_module=HalfBackbone())
    loss, raw = module._loss(Batch.from_data_list([conformer_graph(0, 0, 7.0, 7.01)]))
    assert raw.dtype == torch.bfloat16 and loss.dtype == torch.float32
    assert loss.item() == pytest.approx(0.01**2, rel=1e-3)


def test_scaler_buffers_map_outputs_to_target_units():
    module = MolpropModule(
        {"in_dim": 4, "edge_dim": 2},
        ["t"],
        scaler_mean=[10.0],
        scaler_std=[2.0],
        backbone_module=FakeBackbone(),
    )
    state = module.model.state_dict()
    assert state["scaler_mean"].item() == 10.0 and state["scaler_std"].item() == 2.0
    graphs = [conformer_graph(0, 0, 0.5, 11.0), conformer_graph(1, 0, -1.0, 8.0)]
    metrics = validate(module, graphs)
    assert metrics["val/rmse"] == pytest.approx(0.0, abs=1e-6)  # 10 + 2 * 0.5 = 11
    assert metrics["val/loss"] == pytest.approx(0.0, abs=1e-6)  # loss in scaled space


def test_classification_uses_probabilities_and_auc():
    graphs = [
        conformer_graph(0, 0, 3.0, 1.0),
        conformer_graph(0, 1, 1.0, 1.0),
        conformer_graph(1, 0, -2.0, 0.0),
        conformer_graph(2, 0, 0.5, 1.0),
        conformer_graph(3, 0, -0.5, 0.0),
        conformer_graph(4, 0, 2.0, float("nan")),
    ]
    metrics = validate(make_module(task="classification"), graphs)
    assert metrics["val/roc_auc"] == pytest.approx(1.0)
    assert metrics["val/accuracy"] == pytest.approx(1.0)
    assert {"val/pr_auc", "val/loss"} <= metrics.keys()


def test_schedulers():
    params = [nn.Parameter(torch.zeros(1))]
    opt = torch.optim.AdamW(params, lr=1.0)
    sched = warmup_cosine(opt, total_steps=100, warmup_fraction=0.1, min_lr_ratio=0.0)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.1) and max(lrs) == pytest.approx(1.0)
    assert lrs[-1] < 0.01
    assert plateau(opt, mode=None).mode == "min"


def test_unknown_loss_is_rejected():
    with pytest.raises(ValueError, match="model.loss"):
        make_module(loss="huber")


def test_unique_conformers_drops_ddp_padding_repeats():
    pred = torch.tensor([[1.0], [2.0], [3.0], [1.0]])
    parts = [pred, pred.clone(), torch.tensor([0, 0, 1, 0]), torch.tensor([0, 1, 0, 0])]
    out = unique_conformers(parts)
    assert out[0][:, 0].tolist() == [1.0, 2.0, 3.0]
    assert out[2].tolist() == [0, 0, 1] and out[3].tolist() == [0, 1, 0]
