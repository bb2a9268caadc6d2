"""Multi-head equivariant graph attention (SE(3)-Transformer, Fuchs et al. 2020, Eq. 10)."""

from __future__ import annotations

import math

import torch
from torch import nn

from molprop.nn.basis import EdgeBasis
from molprop.nn.conv import TFNConv
from molprop.nn.fiber import Features, Fiber
from molprop.nn.self_interaction import make_self_interaction


def segment_softmax(logits: torch.Tensor, index: torch.Tensor, num_segments: int) -> torch.Tensor:
    """Softmax of ``logits [E, H]`` over the rows that share ``index [E]`` (incoming edges)."""
    expand = index.unsqueeze(-1).expand_as(logits)
    peak = logits.new_full((num_segments, logits.shape[1]), float("-inf"))
    peak = peak.scatter_reduce(0, expand, logits.detach(), reduce="amax", include_self=True)
    exp = torch.exp(logits - peak.index_select(0, index))
    denom = torch.zeros_like(peak).index_add_(0, index, exp)
    return exp / denom.index_select(0, index)


class SE3Attention(nn.Module):
    """``f_out,i = SI(f_in)_i + sum_j alpha_ij v_ij`` with invariant attention weights.

    Keys and values come from one fused :class:`TFNConv` of the neighbour features; queries
    are a per-degree linear map of the receiving node's own features. Channels of each degree
    are split into ``num_heads`` heads and ``alpha_ij = softmax_j(q_i . k_ij / sqrt(d))`` where
    the dot product runs over all degrees (and components) of the head, so it is invariant.

    Args:
        fiber_in: Input fiber.
        fiber_out: Output (= key = value) fiber; channels divisible by ``num_heads``.
        edge_in_dim: Width of the invariant edge input.
        num_heads: Attention heads.
        radial_hidden: Hidden width of the fused radial MLP.
        radial_mode: See :class:`TFNConv`.
        self_interaction: ``"linear"`` or ``"attentive"`` skip.
        si_hidden: Hidden width of the attentive self-interaction MLPs.
    """

    def __init__(
        self,
        fiber_in: Fiber,
        fiber_out: Fiber,
        edge_in_dim: int,
        num_heads: int = 4,
        radial_hidden: int = 32,
        radial_mode: str = "channelwise",
        self_interaction: str = "linear",
        si_hidden: int = 32,
    ):
        super().__init__()
        for deg, c in fiber_out:
            if c % num_heads:
                raise ValueError(
                    f"channels={c} at degree {deg} is not divisible by num_heads={num_heads}"
                )
        self.fiber_in, self.fiber_out, self.num_heads = fiber_in, fiber_out, num_heads
        kv_fiber = Fiber({deg: 2 * c for deg, c in fiber_out})
        self.kv = TFNConv(fiber_in, kv_fiber, edge_in_dim, radial_hidden, radial_mode)
        self.query_degrees = [deg for deg in fiber_out.degrees if deg in fiber_in]
        self.query = nn.ParameterDict(
            {
                str(deg): nn.Parameter(
                    torch.randn(fiber_out[deg], fiber_in[deg]) / math.sqrt(fiber_in[deg])
                )
                for deg in self.query_degrees
            }
        )
        self.head_dim = max(
            1, sum(fiber_out[deg] // num_heads * (2 * deg + 1) for deg in self.query_degrees)
        )
        self.skip = make_self_interaction(self_interaction, fiber_in, fiber_out, si_hidden)

    def forward(
        self,
        feats: Features,
        basis: EdgeBasis,
        edge_in: torch.Tensor,
        edge_index: torch.Tensor,
    ) -> Features:
        """Attend over incoming edges.

        Args:
            feats: ``l -> [N, c_in, 2l+1]``.
            basis: Edge basis of this forward pass.
            edge_in: Invariant edge input ``[E, edge_in_dim]``.
            edge_index: ``[2, E]``, row 0 source ``j``, row 1 target ``i``.

        Returns:
            ``l -> [N, c_out, 2l+1]``.
        """
        src, dst = edge_index[0], edge_index[1]
        num_nodes, heads = next(iter(feats.values())).shape[0], self.num_heads
        kv = self.kv(feats, basis, edge_in, src)  # l -> [E, 2l+1, 2c]
        logits = None
        for deg in self.query_degrees:
            key = kv[deg][..., : self.fiber_out[deg]].unflatten(-1, (heads, -1))
            query = torch.matmul(self.query[str(deg)], feats[deg]).transpose(1, 2)
            query = query.unflatten(-1, (heads, -1)).index_select(0, dst)  # [E, 2l+1, H, c/H]
            dot = (query * key).sum((1, 3))  # [E, H]
            logits = dot if logits is None else logits + dot
        alpha = segment_softmax(logits / math.sqrt(self.head_dim), dst, num_nodes)  # [E, H]
        out = self.skip(feats)
        for deg, c in self.fiber_out:
            value = kv[deg][..., c:].unflatten(-1, (heads, -1)) * alpha[:, None, :, None]
            agg = value.new_zeros(num_nodes, 2 * deg + 1, c)
            agg = agg.index_add_(0, dst, value.flatten(2))  # [N, 2l+1, c]
            out[deg] = out[deg] + agg.transpose(1, 2)
        return out
