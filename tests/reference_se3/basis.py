"""Equivariant kernel basis from e3nn spherical harmonics and Clebsch-Gordan coefficients.

For an edge ``i <- j`` with relative position ``x = pos_j - pos_i``, the TFN kernel that maps
a degree-``k`` input to a degree-``l`` output is

    W_lk(x) = sum_{J=|k-l|}^{k+l} R_lkJ(|x|) * K_lkJ(x),
    K_lkJ(x)[m, n] = sqrt(2l+1) * sum_mJ CG^{l,k,J}[m, n, mJ] * Y_J(x / |x|)[mJ],

with ``CG = e3nn.o3.wigner_3j`` (unit Frobenius norm) and ``Y_J =
e3nn.o3.spherical_harmonics(J, ..., normalization="component")`` (``|Y_J|^2 = 2J+1``), i.e.
``2 min(k, l) + 1`` basis kernels per degree pair. The spherical harmonics and all ``K`` are
computed once per forward pass in :class:`EdgeBasis` and shared by every layer; the
Clebsch-Gordan tensors are cached per ``(device, dtype)``.

The full kernel is never materialised: :meth:`EdgeBasis.kernels` returns, for one input degree
``k``, the basis of every requested output degree (all ``J`` fused along one column axis, all
output degrees computed by one matmul), which a layer contracts with the gathered neighbour
features in one batched contraction per degree pair.
"""

from __future__ import annotations

import functools

import torch
from e3nn import o3

#: e3nn spherical-harmonic normalisation used everywhere in molprop.nn.
SH_NORMALIZATION = "component"
#: Added to squared edge lengths before the square root, so coincident atoms stay finite.
LENGTH_EPS = 1e-12

_CG_CACHE: dict[tuple, torch.Tensor] = {}
_FUSED_CACHE: dict[tuple, torch.Tensor] = {}


def filter_degrees(degree_in: int, degree_out: int) -> range:
    """Spherical-harmonic degrees ``J`` coupling ``degree_in`` to ``degree_out``."""
    return range(abs(degree_in - degree_out), degree_in + degree_out + 1)


@functools.cache
def _wigner_3j_cpu(l_out: int, l_in: int, l_filter: int) -> torch.Tensor:
    return o3.wigner_3j(l_out, l_in, l_filter, dtype=torch.float64)


def clebsch_gordan(
    l_out: int, l_in: int, l_filter: int, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """Return cached ``e3nn.o3.wigner_3j(l_out, l_in, l_filter)``: ``[2l_out+1, 2l_in+1, 2J+1]``.

    Computed in float64 once and cast, so float32 and float64 models use the same coefficients.
    """
    key = (l_out, l_in, l_filter, str(device), dtype)
    if key not in _CG_CACHE:
        _CG_CACHE[key] = _wigner_3j_cpu(l_out, l_in, l_filter).to(device=device, dtype=dtype)
    return _CG_CACHE[key]


def kernel_columns(degree_in: int, out_degrees: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """Column layout of :meth:`EdgeBasis.kernel`: ``(l_out, offset, num_filters)`` per output.

    Columns of output degree ``l`` occupy ``offset : offset + (2l+1) * num_filters`` ordered as
    ``(m, J)`` with ``J`` ascending over :func:`filter_degrees`.
    """
    layout, offset = [], 0
    for l_out in out_degrees:
        num = len(filter_degrees(degree_in, l_out))
        layout.append((l_out, offset, num))
        offset += num * (2 * l_out + 1)
    return layout


def fused_clebsch_gordan(
    degree_in: int, out_degrees: tuple[int, ...], device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """Block-sparse tensor ``Q`` with ``K_k = Y_all @ Q``, shape ``[S, (2k+1) * cols]``.

    ``S = (J_max + 1)^2`` indexes the concatenated spherical harmonics of degrees ``0..J_max``
    (``J_max = k + max(out_degrees)``) and ``cols`` follows :func:`kernel_columns`.
    """
    key = (degree_in, out_degrees, str(device), dtype)
    if key in _FUSED_CACHE:
        return _FUSED_CACHE[key]
    layout = kernel_columns(degree_in, out_degrees)
    cols = sum(n * (2 * deg + 1) for deg, _, n in layout)
    j_max = degree_in + max(out_degrees)
    q = torch.zeros((j_max + 1) ** 2, 2 * degree_in + 1, cols, dtype=torch.float64)
    for l_out, offset, _ in layout:
        num = len(filter_degrees(degree_in, l_out))
        block = q[:, :, offset : offset + (2 * l_out + 1) * num].unflatten(2, (2 * l_out + 1, num))
        for idx, j in enumerate(filter_degrees(degree_in, l_out)):
            cg = _wigner_3j_cpu(l_out, degree_in, j) * (2 * l_out + 1) ** 0.5  # [m, n, mJ]
            block[j * j : (j + 1) ** 2, :, :, idx] = cg.permute(2, 1, 0)
    fused = q.reshape(q.shape[0], -1).to(device=device, dtype=dtype)
    _FUSED_CACHE[key] = fused
    return fused


class EdgeBasis:
    """Per-forward geometric quantities of the edges, shared across all layers.

    Args:
        edge_vec: Relative positions ``pos[src] - pos[dst]``, shape ``[E, 3]``.
        max_degree: Largest feature degree used by the network (spherical harmonics up to
            ``2 * max_degree`` are computed once).
        radial_basis: Optional :class:`~molprop.nn.radial.RadialBasis`; when given, the
            length expansion ``rbf [E, num_radial]`` and cutoff ``envelope [E]`` are computed
            once here too (otherwise ``rbf`` is ``None`` and the envelope is 1).

    Attributes:
        length: Smoothed edge lengths ``sqrt(|x|^2 + LENGTH_EPS)``, shape ``[E]``.
        sh: Concatenated ``Y_0 .. Y_{2L}`` of the edge directions, shape ``[E, (2L+1)^2]``;
            a zero-length edge gets ``Y_0 = 1`` and ``Y_J = 0`` for ``J > 0``.
    """

    def __init__(self, edge_vec: torch.Tensor, max_degree: int, radial_basis=None):
        self.max_degree = max_degree
        self.length = torch.sqrt(edge_vec.pow(2).sum(-1) + LENGTH_EPS)
        if radial_basis is None:
            self.rbf, self.envelope = None, torch.ones_like(self.length)
        else:
            self.rbf = radial_basis(self.length)
            self.envelope = radial_basis.envelope(self.length)
        unit = edge_vec / self.length.unsqueeze(-1)
        # normalize=False: Y_J are homogeneous polynomials, so Y_J(0) = 0 for J > 0 (no NaN).
        self.sh = o3.spherical_harmonics(
            list(range(2 * max_degree + 1)), unit, normalize=False, normalization=SH_NORMALIZATION
        )
        self._kernels: dict[tuple[int, tuple[int, ...]], dict[int, torch.Tensor]] = {}

    def kernels(self, degree_in: int, out_degrees: tuple[int, ...]) -> dict[int, torch.Tensor]:
        """Basis for input degree ``k``: ``l -> [E, 2k+1, (2l+1) * num_filters]`` (``(m, J)``).

        All output degrees come from one matmul with the fused Clebsch-Gordan tensor; the result
        is memoised, so every layer with the same degrees reuses it within a forward pass.
        """
        key = (degree_in, tuple(out_degrees))
        if key not in self._kernels:
            q = fused_clebsch_gordan(degree_in, key[1], self.sh.device, self.sh.dtype)
            sh = self.sh[:, : q.shape[0]]
            # explicit sizes: a batch without edges (single-atom molecules) has E = 0
            rows = 2 * degree_in + 1
            fused = (sh @ q).view(sh.shape[0], rows, q.shape[1] // rows)
            self._kernels[key] = {
                l_out: fused[..., offset : offset + (2 * l_out + 1) * num].contiguous()
                for l_out, offset, num in kernel_columns(degree_in, key[1])
            }
        return self._kernels[key]
