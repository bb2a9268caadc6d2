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

The full kernel is never materialised: :meth:`EdgeBasis.kernel` returns, for one output degree
``l``, the basis of every input degree ``k`` and filter ``J`` fused into one tensor (one matmul
with a block-sparse Clebsch-Gordan tensor), which a layer contracts with the concatenated
neighbour features of all input degrees in one batched matmul per output degree.
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
_FUSED_MASTER: dict[tuple, torch.Tensor] = {}


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


def path_layout(out_degree: int, in_degrees: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """Layout of :meth:`EdgeBasis.kernel` for output degree ``l``: ``(k, row, col)`` per input.

    The fused kernel of output degree ``l`` has rows ``(m, f)`` with ``m`` over ``2l+1`` and
    ``f`` over the filters of every input degree (``k`` ascending, then ``J`` ascending over
    :func:`filter_degrees`, ``2 min(k, l) + 1`` per ``k``), and columns ``n`` over the
    concatenated components of all input degrees. Input degree ``k`` starts at filter ``row``
    and at component ``col``.
    """
    layout, row, col = [], 0, 0
    for k in in_degrees:
        layout.append((k, row, col))
        row += len(filter_degrees(k, out_degree))
        col += 2 * k + 1
    return layout


def fused_clebsch_gordan(
    out_degree: int, in_degrees: tuple[int, ...], device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """Block-sparse ``Q`` with ``K_l = Y_all @ Q``: shape ``[S, (2l+1) * F * D]``.

    ``S = (J_max + 1)^2`` indexes the concatenated spherical harmonics of degrees ``0..J_max``
    (``J_max = l + max(in_degrees)``), ``F`` the filters and ``D = sum_k (2k+1)`` the input
    components of :func:`path_layout`; entries are ``sqrt(2l+1) CG^{l,k,J}[m, n, mJ]``.
    Built in float64 on the CPU once (layers build theirs at construction, so ``torch.compile``
    only reads it) and cached per device and dtype.
    """
    master = _FUSED_MASTER.get((out_degree, in_degrees))
    if master is None:
        master = _build_fused(out_degree, in_degrees)
        _FUSED_MASTER[out_degree, in_degrees] = master
    if torch.compiler.is_compiling():  # a traced cast of a constant; no cache writes
        return master.to(device=device, dtype=dtype)
    key = (out_degree, in_degrees, str(device), dtype)
    if key not in _FUSED_CACHE:
        _FUSED_CACHE[key] = master.to(device=device, dtype=dtype)
    return _FUSED_CACHE[key]


def _build_fused(out_degree: int, in_degrees: tuple[int, ...]) -> torch.Tensor:
    filters = sum(len(filter_degrees(k, out_degree)) for k in in_degrees)
    comps = sum(2 * k + 1 for k in in_degrees)
    j_max = out_degree + max(in_degrees)
    q = torch.zeros((j_max + 1) ** 2, 2 * out_degree + 1, filters, comps, dtype=torch.float64)
    for k, row, col in path_layout(out_degree, in_degrees):
        for idx, j in enumerate(filter_degrees(k, out_degree)):
            cg = _wigner_3j_cpu(out_degree, k, j) * (2 * out_degree + 1) ** 0.5  # [m, n, mJ]
            q[j * j : (j + 1) ** 2, :, row + idx, col : col + 2 * k + 1] = cg.permute(2, 0, 1)
    return q.reshape(q.shape[0], -1)


def spherical_harmonics_module(max_degree: int) -> o3.SphericalHarmonics:
    """e3nn module computing the concatenated ``Y_0 .. Y_{2 max_degree}``: ``[E, 3] -> [E, S]``.

    ``normalize=False``: the ``Y_J`` are homogeneous polynomials, so ``Y_J(0) = 0`` for ``J > 0``
    (no NaN at zero-length edges). Built once per model rather than per call, which also keeps
    the forward pass traceable by ``torch.compile``.
    """
    degrees = list(range(2 * max_degree + 1))
    return o3.SphericalHarmonics(degrees, normalize=False, normalization=SH_NORMALIZATION)


class EdgeBasis:
    """Per-forward geometric quantities of the edges, shared across all layers.

    Args:
        edge_vec: Relative positions ``pos[src] - pos[dst]``, shape ``[E, 3]``.
        max_degree: Largest feature degree used by the network (spherical harmonics up to
            ``2 * max_degree`` are computed once).
        radial_basis: Optional :class:`~molprop.nn.radial.RadialBasis`; when given, the
            length expansion ``rbf [E, num_radial]`` and cutoff ``envelope [E]`` are computed
            once here too (otherwise ``rbf`` is ``None`` and the envelope is 1).
        harmonics: Prebuilt :func:`spherical_harmonics_module` for ``max_degree`` (a model
            builds it once); built here when ``None``.

    Attributes:
        length: Smoothed edge lengths ``sqrt(|x|^2 + LENGTH_EPS)``, shape ``[E]``.
        sh: Concatenated ``Y_0 .. Y_{2L}`` of the edge directions, shape ``[E, (2L+1)^2]``;
            a zero-length edge gets ``Y_0 = 1`` and ``Y_J = 0`` for ``J > 0``.
    """

    def __init__(
        self,
        edge_vec: torch.Tensor,
        max_degree: int,
        radial_basis=None,
        harmonics: o3.SphericalHarmonics | None = None,
    ):
        self.max_degree = max_degree
        self.length = torch.sqrt(edge_vec.pow(2).sum(-1) + LENGTH_EPS)
        if radial_basis is None:
            self.rbf, self.envelope = None, torch.ones_like(self.length)
        else:
            self.rbf = radial_basis(self.length)
            self.envelope = radial_basis.envelope(self.length)
        unit = edge_vec / self.length.unsqueeze(-1)
        if harmonics is None:
            harmonics = spherical_harmonics_module(max_degree)
        self.sh = harmonics(unit)
        self._kernels: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}

    def kernel(self, out_degree: int, in_degrees: tuple[int, ...]) -> torch.Tensor:
        """Fused basis of output degree ``l``: ``[E, (2l+1) * F, D]`` (see :func:`path_layout`).

        One matmul with the fused Clebsch-Gordan tensor gives the basis kernels of every input
        degree and filter; the result is memoised, so every layer with the same degrees reuses
        it within a forward pass.
        """
        key = (out_degree, tuple(in_degrees))
        if key not in self._kernels:
            q = fused_clebsch_gordan(out_degree, key[1], self.sh.device, self.sh.dtype)
            sh = self.sh[:, : (out_degree + max(key[1]) + 1) ** 2]
            comps = sum(2 * k + 1 for k in key[1])
            # explicit sizes: a batch without edges (single-atom molecules) has E = 0
            self._kernels[key] = (sh @ q).view(sh.shape[0], q.shape[1] // comps, comps)
        return self._kernels[key]
