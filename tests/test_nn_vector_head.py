"""The per-atom vector head is rotation-equivariant on top of the backbone (float64)."""

import torch
from model_mixin import random_rotation
from torch_geometric.data import Data

from molprop.nn import SE3Transformer
from molprop.nn.vector_head import VectorHead


def test_vector_head_rotates_with_the_positions():
    torch.manual_seed(0)
    num = 7
    pos = torch.randn(num, 3, dtype=torch.float64) * 1.5
    src, dst = torch.meshgrid(torch.arange(num), torch.arange(num), indexing="ij")
    keep = src != dst
    edge_index = torch.stack([src[keep], dst[keep]])
    data = Data(
        x=torch.randn(num, 5, dtype=torch.float64),
        pos=pos,
        edge_index=edge_index,
        edge_attr=torch.randn(edge_index.shape[1], 2, dtype=torch.float64),
    )
    model = SE3Transformer(5, 2, 1, num_layers=2, max_degree=1, channels=8, num_heads=2).double()
    head = VectorHead(8, 8).double()
    rot = random_rotation(3)
    out = head(model.forward_features(data)[-1])
    moved = data.clone()
    moved.pos = pos @ rot.T + torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    out_rot = head(model.forward_features(moved)[-1])
    assert out.shape == (num, 3) and out.abs().max() > 1e-3
    torch.testing.assert_close(out_rot, out @ rot.T, atol=1e-9, rtol=0)
    mirrored = data.clone()
    mirrored.pos = -pos  # a reflection is not a rotation: the output need not follow it
    assert (head(model.forward_features(mirrored)[-1]) + out).abs().max() > 1e-6
