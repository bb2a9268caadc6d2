"""Norm-based equivariant nonlinearity with layer normalisation on the norms."""

from __future__ import annotations

import torch
from torch import nn

from .fiber import Features, Fiber


class NormNonlinearity(nn.Module):
    """``f^l -> act(LN(|f^l|)) * f^l / |f^l|`` per channel for ``l > 0``; ``act(LN(f^0))`` at 0.

    Norms are invariant, so the layer is equivariant; LayerNorm runs over the channels of one
    degree. Degree 0 keeps its sign (the norm of a scalar would discard it). Norms are computed
    as ``sqrt(|f|^2 + eps)``, so all-zero features give zero output and finite gradients.

    Args:
        fiber: Fiber of the features (unchanged by the layer).
        eps: Added to squared norms.
    """

    def __init__(self, fiber: Fiber, eps: float = 1e-6):
        super().__init__()
        self.fiber, self.eps = fiber, eps
        self.norms = nn.ModuleDict({str(deg): nn.LayerNorm(c) for deg, c in fiber})
        self.act = nn.SiLU()

    def forward(self, feats: Features) -> Features:
        """Map ``l -> [N, c, 2l+1]`` to the same shapes."""
        out = {}
        for deg, f in feats.items():
            if deg == 0:
                out[0] = self.act(self.norms["0"](f.squeeze(-1))).unsqueeze(-1)
                continue
            norm = torch.sqrt(f.pow(2).sum(-1) + self.eps)  # [N, c]
            scale = self.act(self.norms[str(deg)](norm)) / norm
            out[deg] = f * scale.unsqueeze(-1)
        return out
