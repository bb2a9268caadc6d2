"""Fused, edge-chunked TFN path: radial output layer, basis contraction, scaling and mix in one op.

For one output degree ``l`` the channelwise TFN message is

    w = (z @ A^T + b) * env   [E, P]   last layer of the radial MLP (rows of this degree)
    H = bmm(K, X)             [E, (2l+1) F, c]  ->  viewed [E, 2l+1, P]   (P = F c)
    S = H * w[:, None, :]     per-edge radial weights of every path
    M = S @ U^T               [E, 2l+1, c_out]

Composed from torch ops, autograd stores ``w``, ``H`` and ``S`` (the largest tensors of the
network, ``E (2l+1) P`` each) and every elementwise pass streams them through memory and fresh
allocations. Here ``H`` is computed once (one batched matmul) and saved; the radial layer,
the scaling and the mix run on blocks of ``chunk`` edges whose intermediates stay in cache, so
``w`` and ``S`` are never stored (the backward pass recomputes ``w`` block by block). Same
function, same gradients (up to floating-point summation order); no host synchronisation (the
block loop depends on the shape ``E`` only).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

#: Elements of the ``[B, 2l+1, P]`` block intermediates (1 MiB of float32 ~ a core's L2).
BLOCK_ELEMENTS = 2**18


#: Up to this many input components ``D`` the basis contraction runs as ``D`` broadcast
#: multiply-adds: MKL's batched matmul of tiny matrices costs more per edge (measured, 1 thread).
SMALL_CONTRACTION = 4


def contract_basis(kernel: torch.Tensor, nbr: torch.Tensor) -> torch.Tensor:
    """``bmm(kernel [E, R, D], nbr [E, D, c]) -> [E, R, c]``."""
    if kernel.shape[2] > SMALL_CONTRACTION:
        return torch.bmm(kernel, nbr)
    out = kernel[:, :, :1] * nbr[:, :1, :]
    for n in range(1, kernel.shape[2]):
        out = torch.addcmul(out, kernel[:, :, n : n + 1], nbr[:, n : n + 1, :])
    return out


def basis_mix_reference(kernel, nbr, hidden, out_w, out_b, env, mix, rows: int) -> torch.Tensor:
    """Compute the fused op from plain torch ops (used under ``torch.compile``).

    Args:
        kernel: Fused basis ``[E, rows * F, D]``.
        nbr: Gathered neighbour features ``[E, D, c]``.
        hidden: Last hidden activations of the radial MLP ``[E, R]``.
        out_w: Rows of the radial output layer for these paths ``[P, R]``, ``P = F c``.
        out_b: Their bias ``[P]``.
        env: Cutoff envelope ``[E]``.
        mix: Channel mix ``[c_out, P]``.
        rows: ``2l + 1``.

    Returns:
        Messages ``[E, rows, c_out]``.
    """
    num_edges, paths = nbr.shape[0], out_w.shape[0]
    weight = torch.addmm(out_b, hidden, out_w.T) * env.unsqueeze(-1)  # [E, P]
    h = contract_basis(kernel, nbr).view(num_edges, rows, paths)
    scaled = (h * weight.unsqueeze(1)).view(num_edges * rows, paths)
    return (scaled @ mix.T).view(num_edges, rows, mix.shape[0])


class _BasisMix(torch.autograd.Function):
    @staticmethod
    def forward(ctx, kernel, nbr, hidden, out_w, out_b, env, mix, rows: int, chunk: int):
        num_edges, paths, width = nbr.shape[0], out_w.shape[0], mix.shape[0]
        # one batched matmul over all edges (per-call overhead dominates for small blocks)
        h = contract_basis(kernel, nbr)  # [E, rows F, c]
        flat = h.view(num_edges, rows, paths)
        out = nbr.new_empty(num_edges, rows, width)
        for start in range(0, num_edges, chunk):
            e = slice(start, start + chunk)
            w = torch.addmm(out_b, hidden[e], out_w.T).mul_(env[e].unsqueeze(-1))
            scaled = flat[e] * w.unsqueeze(1)
            torch.mm(scaled.view(-1, paths), mix.T, out=out[e].view(-1, width))
        ctx.save_for_backward(kernel, nbr, hidden, out_w, out_b, env, mix, h)
        ctx.rows, ctx.chunk = rows, chunk
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        kernel, nbr, hidden, out_w, out_b, env, mix, h = ctx.saved_tensors
        need = ctx.needs_input_grad[:7]
        rows, chunk = ctx.rows, ctx.chunk
        num_edges, paths = nbr.shape[0], out_w.shape[0]
        flat = h.view(num_edges, rows, paths)
        grad_out = grad_out.contiguous()
        g_z = torch.empty_like(hidden) if need[2] else None
        g_env = torch.empty_like(env) if need[5] else None
        # parameters: accumulated over blocks
        g_a, g_b, g_u = (
            torch.zeros_like(t) if n else None
            for t, n in ((out_w, need[3]), (out_b, need[4]), (mix, need[6]))
        )
        grad_h = torch.empty_like(h) if need[0] or need[1] else None
        for start in range(0, num_edges, chunk):
            e = slice(start, start + chunk)
            raw = torch.addmm(out_b, hidden[e], out_w.T)  # recomputed, [B, P]
            w = raw * env[e].unsqueeze(-1)
            g = grad_out[e].view(-1, mix.shape[0])  # [B rows, c_out]
            if need[6]:
                g_u.addmm_(g.T, (flat[e] * w.unsqueeze(1)).view(-1, paths))
            grad_s = (g @ mix).view(-1, rows, paths)
            if any(need[2:6]):
                grad_w = (grad_s * flat[e]).sum(1)  # [B, P]
                if need[5]:
                    torch.sum(grad_w * raw, dim=1, out=g_env[e])
                grad_raw = grad_w.mul_(env[e].unsqueeze(-1))
                if need[2]:
                    torch.mm(grad_raw, out_w, out=g_z[e])
                if need[3]:
                    g_a.addmm_(grad_raw.T, hidden[e])
                if need[4]:
                    g_b.add_(grad_raw.sum(0))
            if grad_h is not None:
                torch.mul(grad_s, w.unsqueeze(1), out=grad_h[e].view(-1, rows, paths))
        g_k = torch.bmm(grad_h, nbr.transpose(1, 2)) if need[0] else None
        g_x = torch.bmm(kernel.transpose(1, 2), grad_h) if need[1] else None
        return g_k, g_x, g_z, g_a, g_b, g_env, g_u, None, None


def basis_mix(
    kernel, nbr, hidden, out_w, out_b, env, mix, rows: int, chunk: int | None = None
) -> torch.Tensor:
    """Fused :func:`basis_mix_reference` (same arguments and result), chunked over edges.

    Falls back to the plain composition while ``torch.compile`` traces the model (inductor
    fuses the elementwise steps itself), under ``torch.autocast`` and when ``chunk <= 0``.
    """
    if chunk is None:  # BLOCK_ELEMENTS worth of intermediates, at least 64 edges
        chunk = max(64, BLOCK_ELEMENTS // (rows * out_w.shape[0]))
    # autocast (bf16-mixed training) picks per-op dtypes: the plain ops follow its rules
    kind = nbr.device.type
    autocast = torch.amp.is_autocast_available(kind) and torch.is_autocast_enabled(kind)
    if chunk <= 0 or autocast or torch.compiler.is_compiling():
        return basis_mix_reference(kernel, nbr, hidden, out_w, out_b, env, mix, rows)
    return _BasisMix.apply(kernel, nbr, hidden, out_w, out_b, env, mix, rows, chunk)
