"""Coordinate denoising (model.denoise) and the fine-tuning controls of the LightningModule."""

from __future__ import annotations

import pytest
import torch
from model_mixin import EDGE_DIM, IN_DIM, assert_close, graph_set, random_rotation, transformed
from torch_geometric.data import Batch

from molprop.exceptions import InputError
from molprop.lit.denoise import DenoiseConfig, noised_forward, predict_noise
from molprop.lit.module import MolpropModule

BACKBONE = dict(
    in_dim=IN_DIM, edge_dim=EDGE_DIM, num_layers=1, max_degree=1, channels=8, num_heads=2,
    radial_hidden=16, num_radial=8, cutoff=5.0, pooling="sum", head_hidden=16,
)  # fmt: skip


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_module(**kwargs) -> MolpropModule:
    torch.manual_seed(0)
    return MolpropModule(BACKBONE, ["t"], denoise=kwargs.pop("denoise", {"weight": 1.0}), **kwargs)


def batch_of(dtype=torch.float32) -> Batch:
    graphs = graph_set("rdkit", dtype)
    for i, g in enumerate(graphs):
        g.y = torch.tensor([[float(i)]])
    return Batch.from_data_list(graphs)


def test_config_reads_and_rejects():
    assert not DenoiseConfig.from_dict(None).enabled
    assert DenoiseConfig.from_dict({"weight": 0.5, "sigma": 0.1}).sigma == 0.1
    with pytest.raises(InputError, match="unknown keys \\['sigmaa'\\]"):
        DenoiseConfig.from_dict({"sigmaa": 0.1})
    with pytest.raises(InputError, match="weight: received -1.0"):
        DenoiseConfig.from_dict({"weight": -1})
    with pytest.raises(InputError, match="sigma > 0"):
        DenoiseConfig.from_dict({"weight": 1, "sigma": 0})
    with pytest.raises(InputError, match="max_degree=0"):
        MolpropModule({**BACKBONE, "max_degree": 0}, ["t"], denoise={"weight": 1.0})


def test_defaults_are_the_dataclass_and_backbone_defaults():
    """Absent keys take DenoiseConfig's fields; an unset max_degree is the backbone's own."""
    assert DenoiseConfig.from_dict({"weight": 0.5}) == DenoiseConfig(weight=0.5)
    backbone = {k: v for k, v in BACKBONE.items() if k not in ("max_degree", "channels")}
    module = MolpropModule(backbone, ["t"], denoise={"weight": 1.0})
    channels = module.model.backbone.config["channels"]  # SE3Transformer's default
    assert module.denoise_head.gates[0].in_features == channels


def test_off_by_default_has_no_head():
    module = MolpropModule(BACKBONE, ["t"])
    assert not hasattr(module, "denoise_head")


def test_noise_prediction_is_equivariant():
    module = make_module().double()
    backbone, head = module.model.backbone, module.denoise_head
    rot = random_rotation(3)
    for graph in graph_set("rdkit", torch.float64):
        noise = 0.1 * torch.randn(graph.pos.shape, dtype=torch.float64)
        noised = graph.clone()
        noised.pos = graph.pos + noise
        rotated = transformed(graph, rot, torch.zeros(3))
        rotated.pos = rotated.pos + noise @ rot.T  # rotate input and noise together
        v, _ = predict_noise(backbone, head, noised)
        v_rot, _ = predict_noise(backbone, head, rotated)
        assert v.abs().max() > 1e-6  # a zero prediction would pass trivially
        assert_close(v_rot, v.double() @ rot.T, torch.float64, "noise prediction")


def test_noised_forward_uses_fixed_noise_and_leaves_batch():
    module = make_module()
    batch = batch_of()
    pos = batch.pos.clone()
    args = (module.model.backbone, module.denoise_head, batch, 0.1)
    raw1, loss1 = noised_forward(*args, torch.Generator().manual_seed(1))
    raw2, loss2 = noised_forward(*args, torch.Generator().manual_seed(1))
    raw3, _ = noised_forward(*args, torch.Generator().manual_seed(2))
    assert torch.equal(batch.pos, pos)
    assert raw1.shape == (3, 1) and torch.equal(raw1, raw2) and torch.equal(loss1, loss2)
    assert not torch.equal(raw1, raw3)  # the task head reads the noised conformer


def test_denoise_loss_decreases_on_tiny_set():
    module = make_module(denoise={"weight": 1.0, "sigma": 0.2})
    batch = batch_of()
    backbone, head = module.model.backbone, module.denoise_head

    def val_loss() -> float:
        with torch.no_grad():
            return float(noised_forward(backbone, head, batch, 0.2, torch.Generator())[1])

    before = val_loss()
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
    for _ in range(60):
        optimizer.zero_grad()
        _, loss = noised_forward(backbone, head, batch, 0.2)
        loss.backward()
        optimizer.step()
    after = val_loss()
    assert after < 0.8 * before, (before, after)


def test_training_step_adds_weighted_denoise_loss():
    module = make_module(denoise={"weight": 2.0, "sigma": 0.1})
    module.log = lambda *a, **k: None
    batch = batch_of()
    torch.manual_seed(5)
    total = module.training_step(batch, 0)
    torch.manual_seed(5)
    raw, denoise = noised_forward(module.model.backbone, module.denoise_head, batch, 0.1)
    task, _ = module._loss(batch, raw)
    assert torch.allclose(total, task + 2.0 * denoise)


def test_freeze_backbone_keeps_encoder_fixed():
    module = make_module(freeze_backbone=True)
    module.log = lambda *a, **k: None
    encoder = {
        n: p.detach().clone()
        for n, p in module.model.backbone.named_parameters()
        if not n.startswith("head.")
    }
    head = {n: p.detach().clone() for n, p in module.model.backbone.head.named_parameters()}
    optimizer = module.configure_optimizers()
    loss = module.training_step(batch_of(), 0)
    loss.backward()
    optimizer.step()
    params = dict(module.model.backbone.named_parameters())
    assert all(torch.equal(params[n], v) for n, v in encoder.items())
    assert any(not torch.equal(params[f"head.{n}"], v) for n, v in head.items())


def test_backbone_lr_scale_makes_two_groups():
    from functools import partial

    module = make_module(backbone_lr_scale=0.1)
    module.optimizer_factory = partial(torch.optim.AdamW, lr=1e-3)
    optimizer = module.configure_optimizers()
    lrs = [g["lr"] for g in optimizer.param_groups]
    assert lrs == pytest.approx([1e-4, 1e-3])
    encoder = {id(p) for p in optimizer.param_groups[0]["params"]}
    head_ids = {id(p) for p in module.model.backbone.head.parameters()}
    denoise_ids = {id(p) for p in module.denoise_head.parameters()}
    assert not encoder & (head_ids | denoise_ids)
    n_params = sum(len(g["params"]) for g in optimizer.param_groups)
    assert n_params == len(list(module.parameters()))


def test_noised_task_output_goes_through_the_descriptor_head():
    module = make_module(descriptor_dim=2)
    batch = batch_of()
    batch.mol_x = torch.randn(batch.num_graphs, 2)
    model = module.model
    # zero noise: the denoising forward must give exactly the model's own output
    raw, _ = noised_forward(model.backbone, module.denoise_head, batch, 0.0, readout=model.readout)
    assert_close(raw, model(batch), torch.float32, "noised readout")
    batch.mol_x = batch.mol_x + 1.0
    moved, _ = noised_forward(
        model.backbone, module.denoise_head, batch, 0.0, readout=model.readout
    )
    assert (moved - raw).abs().max() > 1e-4
