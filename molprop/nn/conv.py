"""Tensor-field-network (TFN) convolution with the basis contracted before the radial weights."""

from __future__ import annotations

import math

import torch
from torch import nn

from molprop.nn.basis import EdgeBasis, filter_degrees, fused_clebsch_gordan
from molprop.nn.fiber import Features, Fiber
from molprop.nn.fused import basis_mix
from molprop.nn.radial import RadialMLP

RADIAL_MODES = ("channelwise", "full")


class TFNConv(nn.Module):
    """Equivariant per-edge messages ``m_ij^l = sum_k W_lk(x_j - x_i) f_j^k``.

    The kernel ``[E, c_out (2l+1), c_in (2k+1)]`` is never built. The neighbour features of all
    input degrees are gathered once, concatenated along the component axis (``[E, D, c]``,
    ``D = sum_k (2k+1)``); per output degree ``l`` one batched matmul with the fused basis
    (:meth:`EdgeBasis.kernel`) gives the path features ``H_l [E, 2l+1, P_l]`` of every input
    degree at once, paths ordered ``(k, J, c_in)`` with ``P_l = sum_k (2 min(k, l) + 1) c``.
    One fused radial MLP outputs the weights of every path of the layer; they are applied as

    * ``"channelwise"`` (default): per-edge weights ``w_l [E, P_l]`` scale each path and one
      learned matrix ``U_l [c_out, P_l]`` (the ``U_lk`` of all ``k`` side by side) mixes paths
      and channels in a single GEMM over all ``E (2l+1)`` rows, i.e. the radial function of
      ``(c_out, c_in, J)`` factorises as ``U[c_out, (J, c_in)] * w(r, bond)[(J, c_in)]``;
    * ``"full"``: a per-edge matrix ``R_l [E, c_out, P_l]`` (the unconstrained radial function
      of the original SE(3)-Transformer) applied by a batched matmul; ~``c_out`` x more memory.

    Args:
        fiber_in: Input fiber; the same channel count at every degree (paths of all input
            degrees share one contraction).
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
        if len({c for _, c in fiber_in}) != 1:
            raise ValueError(f"TFNConv fiber_in={fiber_in}; expected the same channels per degree")
        self.fiber_in, self.fiber_out, self.radial_mode = fiber_in, fiber_out, radial_mode
        self.in_degrees, self.out_degrees = tuple(fiber_in.degrees), tuple(fiber_out.degrees)
        #: (l, k) -> number of paths P_lk = num_filters * c_k, in radial-output order.
        self.paths = {
            (deg, k): len(filter_degrees(k, deg)) * c
            for deg in self.out_degrees
            for k, c in fiber_in
        }
        #: l -> P_l, all input degrees of output degree l (adjacent in the radial output)
        self.per_out = {
            deg: sum(p for (lo, _), p in self.paths.items() if lo == deg)
            for deg in self.out_degrees
        }
        if radial_mode == "channelwise":
            self.radial_sizes = [self.per_out[deg] for deg in self.out_degrees]
            self.mix = nn.ParameterDict(
                {
                    f"{deg}_{k}": nn.Parameter(
                        torch.randn(fiber_out[deg], p) / math.sqrt(self.per_out[deg])
                    )
                    for (deg, k), p in self.paths.items()
                }
            )
        else:
            self.radial_sizes = [p * fiber_out[deg] for (deg, _), p in self.paths.items()]
        self.radial = RadialMLP(edge_in_dim, radial_hidden, sum(self.radial_sizes))
        for deg in self.out_degrees:  # build the Clebsch-Gordan tensors now, not when traced
            fused_clebsch_gordan(deg, self.in_degrees, torch.device("cpu"), torch.float64)

    def neighbours(self, feats: Features, src: torch.Tensor) -> torch.Tensor:
        """Source features of every edge, all degrees concatenated: ``[E, D, c]``."""
        nodes = [feats[k].transpose(1, 2) for k in self.in_degrees]  # [N, 2k+1, c]
        nodes = nodes[0] if len(nodes) == 1 else torch.cat(nodes, dim=1)
        return nodes.index_select(0, src)

    def _full_messages(self, nbr: torch.Tensor, basis: EdgeBasis, edge_in) -> Features:
        """``radial_mode="full"``: per-edge matrices ``R_l [E, c_out, P_l]`` by batched matmul."""
        weights = self.radial(edge_in, basis.envelope).split(self.radial_sizes, dim=-1)
        num_edges, out = nbr.shape[0], {}
        for deg in self.out_degrees:
            c_out, rows = self.fiber_out[deg], 2 * deg + 1
            parts = [
                w.view(num_edges, c_out, p)
                for ((lo, _), p), w in zip(self.paths.items(), weights, strict=True)
                if lo == deg
            ]
            radial = parts[0] if len(parts) == 1 else torch.cat(parts, dim=2)
            h = torch.bmm(basis.kernel(deg, self.in_degrees), nbr)
            out[deg] = torch.bmm(h.view(num_edges, rows, self.per_out[deg]), radial.transpose(1, 2))
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
        nbr = self.neighbours(feats, src)
        if self.radial_mode == "full":
            return self._full_messages(nbr, basis, edge_in)
        hidden, layer = self.radial.hidden(edge_in), self.radial.output
        out, offset = {}, 0
        for deg in self.out_degrees:
            rows = slice(offset, offset + self.per_out[deg])  # this degree's radial outputs
            offset = rows.stop
            mix = torch.cat([self.mix[f"{deg}_{k}"] for k in self.in_degrees], dim=1)
            out[deg] = basis_mix(
                basis.kernel(deg, self.in_degrees), nbr, hidden, layer.weight[rows],
                layer.bias[rows], basis.envelope, mix, 2 * deg + 1,
            )  # fmt: skip
        return out


def aggregate(messages: Features, dst: torch.Tensor, num_nodes: int) -> Features:
    """Sum edge-major messages ``[E, 2l+1, c]`` into node features ``[N, c, 2l+1]``."""
    return {
        deg: m.new_zeros(num_nodes, *m.shape[1:]).index_add_(0, dst, m).transpose(1, 2)
        for deg, m in messages.items()
    }
