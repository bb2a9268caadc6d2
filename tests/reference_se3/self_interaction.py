"""Self-interaction: equivariant channel mixing within each degree of one node."""

from __future__ import annotations

import math

import torch
from torch import nn

from .fiber import Features, Fiber

SELF_INTERACTIONS = ("linear", "attentive")


class LinearSelfInteraction(nn.Module):
    """``f_out^l = W_l f_in^l`` (+ bias at degree 0); degrees absent from the input give zeros.

    Args:
        fiber_in: Input fiber.
        fiber_out: Output fiber.
    """

    def __init__(self, fiber_in: Fiber, fiber_out: Fiber):
        super().__init__()
        self.fiber_in, self.fiber_out = fiber_in, fiber_out
        self.weight = nn.ParameterDict(
            {
                str(deg): nn.Parameter(torch.randn(c, fiber_in[deg]) / math.sqrt(fiber_in[deg]))
                for deg, c in fiber_out
                if deg in fiber_in
            }
        )
        self.bias = nn.Parameter(torch.zeros(fiber_out[0], 1)) if 0 in fiber_out else None

    def forward(self, feats: Features) -> Features:
        """Map ``l -> [N, c_in, 2l+1]`` to ``l -> [N, c_out, 2l+1]``."""
        num = next(iter(feats.values())).shape[0]
        ref = next(iter(feats.values()))
        out = {}
        for deg, c in self.fiber_out:
            if str(deg) in self.weight:
                out[deg] = torch.matmul(self.weight[str(deg)], feats[deg])
            else:
                out[deg] = ref.new_zeros(num, c, 2 * deg + 1)
        if self.bias is not None:
            out[0] = out[0] + self.bias
        return out


class AttentiveSelfInteraction(nn.Module):
    """Self-interaction whose per-node weights come from invariant channel inner products.

    For each degree ``l`` the Gram matrix ``G_cc' = <f_c, f_c'> / (2l+1)`` (invariant) is layer-
    normalised and mapped by an MLP to a matrix ``W_i^l [c_out, c_in]``; ``f_out^l = W_i^l f_in^l``
    (SE(3)-Transformer paper, attentive self-interaction).

    Args:
        fiber_in: Input fiber.
        fiber_out: Output fiber.
        hidden: Hidden width of each degree's weight MLP.
    """

    def __init__(self, fiber_in: Fiber, fiber_out: Fiber, hidden: int = 32):
        super().__init__()
        self.fiber_in, self.fiber_out = fiber_in, fiber_out
        self.mlps = nn.ModuleDict()
        for deg, c in fiber_out:
            if deg in fiber_in:
                c_in = fiber_in[deg]
                self.mlps[str(deg)] = nn.Sequential(
                    nn.LayerNorm(c_in * c_in),
                    nn.Linear(c_in * c_in, hidden),
                    nn.SiLU(),
                    nn.Linear(hidden, c * c_in),
                )
        self.bias = nn.Parameter(torch.zeros(fiber_out[0], 1)) if 0 in fiber_out else None

    def forward(self, feats: Features) -> Features:
        """Map ``l -> [N, c_in, 2l+1]`` to ``l -> [N, c_out, 2l+1]``."""
        ref = next(iter(feats.values()))
        num = ref.shape[0]
        out = {}
        for deg, c in self.fiber_out:
            if str(deg) not in self.mlps:
                out[deg] = ref.new_zeros(num, c, 2 * deg + 1)
                continue
            f = feats[deg]
            gram = torch.bmm(f, f.transpose(1, 2)) / (2 * deg + 1)  # [N, c_in, c_in]
            weight = self.mlps[str(deg)](gram.reshape(num, -1)).view(num, c, f.shape[1])
            out[deg] = torch.bmm(weight, f) / math.sqrt(f.shape[1])
        if self.bias is not None:
            out[0] = out[0] + self.bias
        return out


def make_self_interaction(kind: str, fiber_in: Fiber, fiber_out: Fiber, hidden: int = 32):
    """Build a ``"linear"`` or ``"attentive"`` self-interaction."""
    if kind == "linear":
        return LinearSelfInteraction(fiber_in, fiber_out)
    if kind == "attentive":
        return AttentiveSelfInteraction(fiber_in, fiber_out, hidden)
    raise ValueError(f"self_interaction={kind!r} is invalid; expected one of {SELF_INTERACTIONS}")
