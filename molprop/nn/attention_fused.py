"""Attention with the key/value channel mix moved from the edges to the nodes.

For one output degree ``l`` the channelwise TFN path features scaled by the per-edge radial
weights are ``S[e, m, p] = H[e, m, p] w[e, p]`` (``m`` over ``2l+1``, ``p`` over the ``P``
paths of every input degree). Keys and values are ``k = S Uk^T`` and ``v = S Uv^T`` with the
learned mixes ``Uk, Uv [c, P]``, channels ``o = (h, d)`` split into heads. Computing them per
edge costs ``E (2l+1) P 2c`` multiply-adds; by associativity

    logits[e, h] = sum_{m,d} q[dst_e, m, (h,d)] k[e, m, (h,d)]
                 = sum_{m,p} S[e, m, p] Qt[dst_e, h, m, p],   Qt = sum_d q[.., (h,d)] Uk[(h,d), .]
    out_i[m, (h,d)] = sum_{e->i} alpha[e, h] v[e, m, (h,d)]
                    = sum_p T[i, h, m, p] Uv[(h,d), p],      T[i] = sum_{e->i} alpha[e, h] S[e]

so the mixes become two node-level GEMMs (``N (2l+1) P c`` each) and the edges only need
``E (2l+1) P H`` multiply-adds per direction (``H`` heads instead of ``2c`` channels).

The edge terms run in two autograd functions over blocks of edges: ``S`` is rebuilt per block
from the saved ``H`` and ``w`` (never stored) and the gathered ``Qt[dst]`` / scattered
``T`` rows of a block stay in cache; the gradients are computed block by block. No host
synchronisation (the block loop depends on ``E`` only).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

#: Elements of the ``[B, H, (2l+1) P]`` block intermediates (2 MiB of float32).
BLOCK_ELEMENTS = 2**19


def edge_chunk(heads: int, width: int) -> int:
    """Edges per block for rows of ``heads * width`` elements (at least 32)."""
    return max(32, BLOCK_ELEMENTS // (heads * width))


def _scaled(h: torch.Tensor, w: torch.Tensor, e: slice) -> torch.Tensor:
    """``S`` of the edges ``e``: ``[B, (2l+1) P]``."""
    return (h[e] * w[e].unsqueeze(1)).flatten(1)


def _path_grads(g_s, h, w, e, g_h, g_w) -> None:
    """Write ``dL/dH`` and ``dL/dw`` of block ``e`` from ``g_s = dL/dS [B, 2l+1, P]``."""
    if g_h is not None:
        torch.mul(g_s, w[e].unsqueeze(1), out=g_h[e])
    if g_w is not None:
        torch.sum(g_s * h[e], dim=1, out=g_w[e])


class _EdgeLogits(torch.autograd.Function):
    """``logits[e, h] = sum_x S[e, x] Qt[dst_e, h, x]``, ``x = (m, p)``."""

    @staticmethod
    def forward(ctx, h, w, qt, dst, chunk: int):
        num_edges, heads = h.shape[0], qt.shape[1]
        out = h.new_empty(num_edges, heads)
        for start in range(0, num_edges, chunk):
            e = slice(start, start + chunk)
            q = qt.index_select(0, dst[e]).transpose(1, 2)  # [B, x, H]
            # [1, x] @ [x, H] per edge: MKL's batched GEMV of this orientation is ~5x faster
            torch.bmm(_scaled(h, w, e).unsqueeze(1), q, out=out[e].unsqueeze(1))
        ctx.save_for_backward(h, w, qt, dst)
        ctx.chunk = chunk
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        h, w, qt, dst = ctx.saved_tensors
        need_h, need_w, need_q = ctx.needs_input_grad[:3]
        grad = grad.contiguous()
        g_h = torch.empty_like(h) if need_h else None
        g_w = torch.empty_like(w) if need_w else None
        g_q = torch.zeros_like(qt) if need_q else None
        for start in range(0, h.shape[0], ctx.chunk):
            e = slice(start, start + ctx.chunk)
            if need_h or need_w:
                q = qt.index_select(0, dst[e])
                g_s = torch.bmm(grad[e].unsqueeze(1), q).view(h[e].shape)  # [B, 2l+1, P]
                _path_grads(g_s, h, w, e, g_h, g_w)
            if need_q:
                outer = grad[e].unsqueeze(-1) * _scaled(h, w, e).unsqueeze(1)  # [B, H, x]
                g_q.index_add_(0, dst[e], outer)
        return g_h, g_w, g_q, None, None


class _EdgeAggregate(torch.autograd.Function):
    """``T[i, h, x] = sum_{e -> i} alpha[e, h] S[e, x]``."""

    @staticmethod
    def forward(ctx, h, w, alpha, dst, num_nodes: int, chunk: int):
        out = h.new_zeros(num_nodes, alpha.shape[1], h.shape[1] * h.shape[2])
        for start in range(0, h.shape[0], chunk):
            e = slice(start, start + chunk)
            out.index_add_(0, dst[e], alpha[e].unsqueeze(-1) * _scaled(h, w, e).unsqueeze(1))
        ctx.save_for_backward(h, w, alpha, dst)
        ctx.chunk = chunk
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        h, w, alpha, dst = ctx.saved_tensors
        need_h, need_w, need_a = ctx.needs_input_grad[:3]
        grad = grad.contiguous()
        g_h = torch.empty_like(h) if need_h else None
        g_w = torch.empty_like(w) if need_w else None
        g_a = torch.empty_like(alpha) if need_a else None
        for start in range(0, h.shape[0], ctx.chunk):
            e = slice(start, start + ctx.chunk)
            g_t = grad.index_select(0, dst[e])  # [B, H, x]
            if need_a:
                s = _scaled(h, w, e).unsqueeze(1)
                torch.bmm(s, g_t.transpose(1, 2), out=g_a[e].unsqueeze(1))
            if need_h or need_w:
                g_s = torch.bmm(alpha[e].unsqueeze(1), g_t).view(h[e].shape)
                _path_grads(g_s, h, w, e, g_h, g_w)
        return g_h, g_w, g_a, None, None, None


def edge_logits(h, w, qt, dst) -> torch.Tensor:
    """Attention logits of one degree without per-edge keys.

    Args:
        h: Path features ``[E, 2l+1, P]``.
        w: Per-edge radial weights ``[E, P]``.
        qt: Queries mixed into path space ``[N, H, (2l+1) P]``.
        dst: Target node of every edge ``[E]``.

    Returns:
        ``[E, H]``.
    """
    return _EdgeLogits.apply(h, w, qt, dst, edge_chunk(qt.shape[1], qt.shape[2]))


def edge_aggregate(h, w, alpha, dst, num_nodes: int) -> torch.Tensor:
    """Attention-weighted sums of the scaled path features over incoming edges.

    Args:
        h: Path features ``[E, 2l+1, P]``.
        w: Per-edge radial weights ``[E, P]``.
        alpha: Attention weights ``[E, H]``.
        dst: Target node of every edge ``[E]``.
        num_nodes: ``N``.

    Returns:
        ``T [N, H, (2l+1) P]``.
    """
    width = h.shape[1] * h.shape[2]
    return _EdgeAggregate.apply(h, w, alpha, dst, num_nodes, edge_chunk(alpha.shape[1], width))
