"""Radial part of the kernels: smooth distance expansion and the fused radial network."""

from __future__ import annotations

import math

import torch
from torch import nn


class RadialBasis(nn.Module):
    """Gaussian expansion of edge lengths with a smooth cosine cutoff envelope.

    Args:
        num_radial: Number of Gaussians, centred uniformly on ``[0, cutoff]``.
        cutoff: Distance (Angstrom) at which the envelope and its slope reach zero.
    """

    def __init__(self, num_radial: int = 16, cutoff: float = 5.0):
        super().__init__()
        if num_radial < 1 or cutoff <= 0:
            raise ValueError(
                f"RadialBasis got num_radial={num_radial}, cutoff={cutoff}; "
                "expected num_radial >= 1 and cutoff > 0"
            )
        self.cutoff = float(cutoff)
        self.register_buffer("centers", torch.linspace(0.0, cutoff, num_radial))
        self.width = cutoff / num_radial

    def envelope(self, length: torch.Tensor) -> torch.Tensor:
        """``0.5 (cos(pi r / cutoff) + 1)`` inside the cutoff, 0 outside; shape ``[E]``."""
        env = 0.5 * (torch.cos(math.pi * length / self.cutoff) + 1.0)
        return torch.where(length < self.cutoff, env, torch.zeros_like(env))

    def forward(self, length: torch.Tensor) -> torch.Tensor:
        """Expand lengths ``[E]`` into ``[E, num_radial]`` Gaussian features."""
        diff = (length.unsqueeze(-1) - self.centers) / self.width
        return torch.exp(-0.5 * diff.pow(2))


class RadialMLP(nn.Module):
    """One MLP producing the radial weights of *all* paths of a layer (fused).

    Input is the radial expansion concatenated with the bond features; the output is multiplied
    by the cutoff envelope so that every kernel vanishes smoothly at the cutoff.

    Args:
        in_dim: ``num_radial + edge_dim``.
        hidden: Hidden width.
        out_dim: Number of radial weights per edge (all paths of the layer).
    """

    def __init__(self, in_dim: int, hidden: int, out_dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden),
            nn.LayerNorm(hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.LayerNorm(hidden),
            nn.SiLU(),
            nn.Linear(hidden, out_dim),
        )

    @property
    def output(self) -> nn.Linear:
        """The output layer; fused kernels apply it block by block (see ``molprop.nn.fused``)."""
        return self.net[-1]

    def hidden(self, edge_in: torch.Tensor) -> torch.Tensor:
        """Activations before the output layer, ``[E, hidden]``."""
        return self.net[:-1](edge_in)

    def forward(self, edge_in: torch.Tensor, envelope: torch.Tensor) -> torch.Tensor:
        """Map ``edge_in [E, in_dim]`` and ``envelope [E]`` to weights ``[E, out_dim]``."""
        return self.output(self.hidden(edge_in)) * envelope.unsqueeze(-1)
