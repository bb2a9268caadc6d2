"""Equivariant per-atom vector readout: degree-1 features to one 3-vector per atom."""

from __future__ import annotations

import torch
from torch import nn

from molprop.nn.fiber import Features


class VectorHead(nn.Module):
    """``v_i = sum_c g_c(f_i^0) f_i^1[c]``: invariant gates times degree-1 channels.

    The gates come from the atom's degree-0 channels, so they are invariant and ``v`` rotates
    with the positions (``pos -> pos @ R.T`` gives ``v -> v @ R.T``; e3nn's degree-1 basis is
    ``(x, y, z)``). Used to predict per-atom coordinate noise in denoising pretraining.

    Args:
        scalar_channels: Degree-0 channels of the features read.
        vector_channels: Degree-1 channels of the features read.
        hidden: Hidden width of the gate MLP.
    """

    def __init__(self, scalar_channels: int, vector_channels: int, hidden: int = 32):
        super().__init__()
        self.gates = nn.Sequential(
            nn.Linear(scalar_channels, hidden), nn.SiLU(), nn.Linear(hidden, vector_channels)
        )

    def forward(self, feats: Features) -> torch.Tensor:
        """Map ``{0: [N, c0, 1], 1: [N, c1, 3], ...}`` to vectors ``[N, 3]``."""
        if 1 not in feats:
            raise ValueError("VectorHead needs degree-1 features (backbone max_degree >= 1)")
        gates = self.gates(feats[0].squeeze(-1))  # [N, c1]
        return torch.einsum("nc,ncm->nm", gates, feats[1])
