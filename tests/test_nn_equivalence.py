"""The fast backbone computes the same function as the frozen reference (tests/reference_se3).

Same weights (the reference loads the current model's state dict, strict), float64: outputs,
per-layer features and every gradient agree to 1e-10. Also: the fused edge-chunked kernel
against its plain-torch composition, a forward pass on the meta device (no tensor value is
ever read, so nothing waits for a GPU), and ``torch.compile(fullgraph=True)``.
"""

from __future__ import annotations

import pytest
import reference_se3
import torch
from model_mixin import EDGE_DIM, IN_DIM, graph_set, single_thread  # noqa: F401
from torch_geometric.data import Batch

from molprop.nn import SE3Transformer
from molprop.nn.fused import basis_mix, basis_mix_reference

pytestmark = pytest.mark.usefixtures("single_thread")
TOL = 1e-10
CONFIGS = {
    "degree1": dict(num_layers=2, max_degree=1, channels=8, num_heads=2, radial_hidden=16),
    "degree2_attentive_sum": dict(num_layers=2, max_degree=2, channels=8, num_heads=4,
                                  self_interaction="attentive", pooling="sum"),
    "degree2_full_max": dict(num_layers=2, max_degree=2, channels=4, num_heads=2,
                             radial_mode="full", pooling="max"),
    "degree0": dict(num_layers=2, max_degree=0, channels=8, num_heads=2),
}  # fmt: skip


def _pair(kwargs: dict):
    torch.manual_seed(0)
    new = SE3Transformer(IN_DIM, EDGE_DIM, 2, num_radial=8, head_hidden=16, **kwargs).double()
    ref = reference_se3.SE3Transformer(IN_DIM, EDGE_DIM, 2, num_radial=8, head_hidden=16, **kwargs)
    ref.double().load_state_dict(new.state_dict())  # strict: same parameter names and shapes
    return new, ref


def _batch(requires_grad: bool) -> Batch:
    batch = Batch.from_data_list(
        graph_set("rdkit", torch.float64) + graph_set("random", torch.float64)
    )
    batch.pos.requires_grad_(requires_grad)
    return batch


@pytest.mark.parametrize("name", list(CONFIGS))
def test_same_function_and_gradients_as_reference(name):
    new, ref = _pair(CONFIGS[name])
    results = []
    for model in (new, ref):
        batch = _batch(requires_grad=True)
        out = model(batch)
        feats = model.forward_features(batch)
        (out.square().sum() + sum(f.sum() for layer in feats for f in layer.values())).backward()
        grads = {k: p.grad for k, p in model.named_parameters()}
        results.append((out, feats, batch.pos.grad, grads))
    (out, feats, pos_grad, grads), (r_out, r_feats, r_pos_grad, r_grads) = results
    assert (out - r_out).abs().max() <= TOL
    for layer, r_layer in zip(feats, r_feats, strict=True):
        assert layer.keys() == r_layer.keys()
        assert all((layer[d] - r_layer[d]).abs().max() <= TOL for d in layer)
    assert (pos_grad - r_pos_grad).abs().max() <= TOL
    assert grads.keys() == r_grads.keys()
    for key, grad in r_grads.items():
        assert (grad is None) == (grads[key] is None), key
        if grad is not None:
            assert (grads[key] - grad).abs().max() <= TOL, key


def test_fused_kernel_matches_plain_composition_over_several_blocks():
    gen = torch.Generator().manual_seed(0)
    rows, filters, comps, chan, hidden, width, edges = 5, 9, 9, 4, 6, 7, 150

    def rand(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64).requires_grad_(True)

    paths = filters * chan
    inputs = [rand(edges, rows * filters, comps), rand(edges, comps, chan), rand(edges, hidden),
              rand(paths, hidden), rand(paths), rand(edges), rand(width, paths)]  # fmt: skip
    seed = torch.randn(edges, rows, width, generator=gen, dtype=torch.float64)
    fused = basis_mix(*inputs, rows, chunk=64)  # blocks of 64, 64, 22 edges
    fused_grads = torch.autograd.grad((fused * seed).sum(), inputs)
    plain = basis_mix_reference(*inputs, rows)
    plain_grads = torch.autograd.grad((plain * seed).sum(), inputs)
    assert (fused - plain).abs().max() <= TOL
    for got, want in zip(fused_grads, plain_grads, strict=True):
        assert (got - want).abs().max() <= TOL


def test_forward_and_backward_read_no_tensor_values():
    """On the meta device any ``.item()``, ``int(t)`` or value-dependent shape raises."""
    torch.manual_seed(0)
    model = SE3Transformer(IN_DIM, EDGE_DIM, 2, **CONFIGS["degree2_attentive_sum"])
    batch = Batch.from_data_list(graph_set("random", torch.float32))
    model, batch = model.to("meta"), batch.to("meta")
    out = model(batch)
    out.sum().backward()
    assert out.shape == (3, 2) and out.device.type == "meta"


def test_bfloat16_autocast_training_step():
    """``trainer=gpu`` trains under bf16-mixed autocast; the fused kernel must follow it."""
    torch.manual_seed(0)
    model = SE3Transformer(IN_DIM, EDGE_DIM, 2, **CONFIGS["degree1"])
    batch = Batch.from_data_list(graph_set("random", torch.float32))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(batch)
    out.float().square().sum().backward()
    assert torch.isfinite(out).all() and out.dtype == torch.bfloat16
    assert torch.allclose(out.float(), model(batch), rtol=0.1, atol=0.05)
