"""Tensor-field-network (TFN) convolution with the basis contracted before the radial weights."""

from __future__ import annotations

import math

import torch
from torch import nn

from .basis import EdgeBasis, kernel_columns
from .fiber import Features, Fiber
from .radial import RadialMLP

RADIAL_MODES = ("channelwise", "full")


class TFNConv(nn.Module):
    """Equivariant per-edge messages ``m_ij^l = sum_k W_lk(x_j - x_i) f_j^k``.

    The kernel ``[E, c_out (2l+1), c_in (2k+1)]`` is never built. For each input degree ``k`` the
    gathered neighbour features ``[E, 2k+1, c_k]`` are contracted with the fused basis of all
    output degrees (:meth:`EdgeBasis.kernels`, one batched contraction per pair), giving
    per-path features ``H_lk [E, 2l+1, P_lk]`` with ``P_lk = (2 min(k, l) + 1) * c_k`` paths
    ordered ``(J, c_in)``. One fused radial MLP outputs the weights of every path of the layer;
    they are applied as

    * ``"channelwise"`` (default): per-edge weights ``w_lk [E, P_lk]`` scale each path and one
      learned matrix ``U_lk [c_out, P_lk]`` mixes paths and channels in a single GEMM over all
      ``E (2l+1)`` rows, i.e. the radial function of ``(c_out, c_in, J)`` factorises as
      ``U[c_out, (J, c_in)] * w(r, bond)[(J, c_in)]``;
    * ``"full"``: a per-edge matrix ``R_lk [E, c_out, P_lk]`` (the unconstrained radial function
      of the original SE(3)-Transformer) applied by a batched matmul; ~``c_out`` x more memory.

    Args:
        fiber_in: Input fiber.
        fiber_out: Output fiber (all its degrees receive messages).
        edge_in_dim: Width of the invariant edge input (radial expansion + bond features).
        radial_hidden: Hidden width of the radial MLP.
        radial_mode: ``"channelwise"`` or ``"full"``.
    """

    def __init__(
        self,
        fiber_in: Fiber,
        fiber_out: Fiber,
        edge_in_dim: int,
        radial_hidden: int = 32,
        radial_mode: str = "channelwise",
    ):
        super().__init__()
        if radial_mode not in RADIAL_MODES:
            raise ValueError(f"radial_mode={radial_mode!r} is invalid; expected {RADIAL_MODES}")
        self.fiber_in, self.fiber_out, self.radial_mode = fiber_in, fiber_out, radial_mode
        self.out_degrees = tuple(fiber_out.degrees)
        self.layouts = {k: kernel_columns(k, self.out_degrees) for k in fiber_in.degrees}
        #: (l, k) -> number of paths P_lk = num_filters * c_k, in radial-output order.
        self.paths = {(deg, k): num * c for k, c in fiber_in for deg, _, num in self.layouts[k]}
        self.paths = dict(sorted(self.paths.items()))
        per_out = {
            deg: sum(p for (lo, _), p in self.paths.items() if lo == deg)
            for deg in self.out_degrees
        }
        if radial_mode == "channelwise":
            self.radial_sizes = list(self.paths.values())
            self.mix = nn.ParameterDict(
                {
                    f"{deg}_{k}": nn.Parameter(
                        torch.randn(fiber_out[deg], p) / math.sqrt(per_out[deg])
                    )
                    for (deg, k), p in self.paths.items()
                }
            )
        else:
            self.radial_sizes = [p * fiber_out[deg] for (deg, _), p in self.paths.items()]
        self.radial = RadialMLP(edge_in_dim, radial_hidden, sum(self.radial_sizes))

    def path_features(
        self, feats: Features, basis: EdgeBasis, src: torch.Tensor
    ) -> dict[tuple[int, int], torch.Tensor]:
        """Basis contracted with neighbour features: ``(l, k) -> H_lk [E, 2l+1, P_lk]``."""
        out = {}
        for k, _ in self.fiber_in:
            kernels = basis.kernels(k, self.out_degrees)  # l -> [E, 2k+1, (2l+1) * nJ]
            nbr = feats[k].transpose(1, 2).index_select(0, src)  # [E, 2k+1, c_in]
            for deg, kernel in kernels.items():
                h = torch.einsum("enw,enc->ewc", kernel, nbr)  # [E, (2l+1) * nJ, c_in]
                rows = 2 * deg + 1  # explicit sizes: E may be 0
                out[deg, k] = h.view(h.shape[0], rows, h.shape[1] // rows * h.shape[2])
        return out

    def forward(
        self, feats: Features, basis: EdgeBasis, edge_in: torch.Tensor, src: torch.Tensor
    ) -> Features:
        """Compute per-edge messages.

        Args:
            feats: Node features of ``fiber_in``, ``l -> [N, c_l, 2l+1]``.
            basis: Edge basis of this forward pass.
            edge_in: Invariant edge input ``[E, edge_in_dim]``.
            src: Source node of every edge ``[E]``.

        Returns:
            Messages of ``fiber_out`` in edge-major layout, ``l -> [E, 2l+1, c_out_l]``.
        """
        weights = self.radial(edge_in, basis.envelope).split(self.radial_sizes, dim=-1)
        hs = self.path_features(feats, basis, src)
        out: Features = {}
        for (deg, k), w in zip(self.paths, weights, strict=True):
            h = hs[deg, k]
            rows, width = h.shape[0], h.shape[1]
            if self.radial_mode == "full":
                msg = torch.bmm(h, w.view(rows, self.fiber_out[deg], h.shape[2]).transpose(1, 2))
            else:
                scaled = h * w.unsqueeze(1)  # [E, 2l+1, P_lk]
                mix = self.mix[f"{deg}_{k}"]  # [c_out, P_lk]
                flat = scaled.view(rows * width, h.shape[2])
                msg = (flat @ mix.T).view(rows, width, mix.shape[0])
            out[deg] = out[deg] + msg if deg in out else msg
        return out


def aggregate(messages: Features, dst: torch.Tensor, num_nodes: int) -> Features:
    """Sum edge-major messages ``[E, 2l+1, c]`` into node features ``[N, c, 2l+1]``."""
    return {
        deg: m.new_zeros(num_nodes, *m.shape[1:]).index_add_(0, dst, m).transpose(1, 2)
        for deg, m in messages.items()
    }
