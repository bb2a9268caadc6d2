"""Graph-level pooling of invariant node features."""

from __future__ import annotations

import torch
from torch import nn

POOLINGS = ("sum", "mean", "max")


class GraphPooling(nn.Module):
    """Pool node rows ``[N, D]`` into graphs ``[B, D]`` by ``sum``, ``mean`` or ``max``.

    Empty graphs pool to zeros.

    Args:
        mode: ``"sum"``, ``"mean"`` or ``"max"``.
    """

    def __init__(self, mode: str = "mean"):
        super().__init__()
        if mode not in POOLINGS:
            raise ValueError(f"pooling={mode!r} is invalid; expected one of {POOLINGS}")
        self.mode = mode

    def forward(self, x: torch.Tensor, batch: torch.Tensor, num_graphs: int) -> torch.Tensor:
        """Pool ``x [N, D]`` with graph ids ``batch [N]`` into ``[num_graphs, D]``."""
        if self.mode == "max":
            out = x.new_full((num_graphs, x.shape[1]), float("-inf"))
            index = batch.unsqueeze(-1).expand_as(x)
            out = out.scatter_reduce(0, index, x, reduce="amax", include_self=True)
            return torch.where(torch.isinf(out), torch.zeros_like(out), out)
        out = x.new_zeros(num_graphs, x.shape[1]).index_add_(0, batch, x)
        if self.mode == "mean":
            # index_add, not bincount: bincount's output size depends on the values (host sync)
            counts = x.new_zeros(num_graphs).index_add_(0, batch, x.new_ones(batch.shape[0]))
            out = out / counts.clamp_min(1).unsqueeze(-1)
        return out
