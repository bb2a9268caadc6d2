"""The contracted TFN path against a naive kernel built directly from e3nn; basis properties."""

from __future__ import annotations

import pytest
import torch
from e3nn import o3
from model_mixin import random_rotation, single_thread, wigner_d  # noqa: F401

from molprop.nn.basis import EdgeBasis, clebsch_gordan, filter_degrees, path_layout
from molprop.nn.conv import TFNConv, aggregate
from molprop.nn.fiber import Fiber
from molprop.nn.radial import RadialBasis

pytestmark = pytest.mark.usefixtures("single_thread")


def naive_messages(conv: TFNConv, feats, edge_vec, edge_in, src, k: int, l_out: int):
    """Full per-edge kernel ``[E, c_out (2l+1), c_in (2k+1)]`` from wigner_3j and Y_J."""
    num_edges, c_in, c_out = edge_vec.shape[0], conv.fiber_in[k], conv.fiber_out[l_out]
    radial_basis = RadialBasis(num_radial=edge_in.shape[1], cutoff=5.0).double()
    weights = conv.radial(edge_in, radial_basis.envelope(edge_vec.norm(dim=-1)))
    js = list(filter_degrees(k, l_out))
    if conv.radial_mode == "full":  # R[e, o, (J, i)]
        radial = weights.view(num_edges, c_out, len(js), c_in)
    else:  # U[o, (J, i)] * w[e, (J, i)]
        mix = conv.mix[f"{l_out}_{k}"].view(c_out, len(js), c_in)
        radial = mix[None] * weights.view(num_edges, 1, len(js), c_in)
    kernel = edge_vec.new_zeros(num_edges, c_out, 2 * l_out + 1, c_in, 2 * k + 1)
    for idx, j in enumerate(js):
        cg = o3.wigner_3j(l_out, k, j, dtype=torch.float64)
        sh = o3.spherical_harmonics(j, edge_vec, normalize=True, normalization="component")
        basis = (2 * l_out + 1) ** 0.5 * torch.einsum("mnq,eq->emn", cg, sh)
        kernel += radial[:, :, idx, None, :, None] * basis[:, None, :, None, :]
    full = kernel.reshape(num_edges, c_out * (2 * l_out + 1), c_in * (2 * k + 1))
    out = full @ feats[k][src].reshape(num_edges, -1, 1)
    return out.view(num_edges, c_out, 2 * l_out + 1)


@pytest.mark.parametrize("mode", ["channelwise", "full"])
@pytest.mark.parametrize(("k", "l_out"), [(1, 2), (2, 1), (1, 1), (0, 2)])
def test_contracted_path_matches_naive_e3nn_kernel(mode, k, l_out):
    torch.manual_seed(0)
    num_nodes, num_edges, c_in, c_out = 5, 12, 3, 4
    conv = TFNConv(Fiber({k: c_in}), Fiber({l_out: c_out}), 6, 8, mode).double()
    feats = {k: torch.randn(num_nodes, c_in, 2 * k + 1, dtype=torch.float64)}
    src = torch.randint(0, num_nodes, (num_edges,))
    edge_vec = torch.randn(num_edges, 3, dtype=torch.float64) * 2
    radial = RadialBasis(6, 5.0).double()
    basis = EdgeBasis(edge_vec, max_degree=2, radial_basis=radial)
    ours = conv(feats, basis, basis.rbf, src)[l_out].transpose(1, 2)  # [E, c_out, 2l+1]
    ref = naive_messages(conv, feats, edge_vec, basis.rbf, src, k, l_out)
    assert (ours - ref).abs().max() < 1e-9  # LENGTH_EPS shifts |x| by ~1e-12 / |x|


def test_kernel_count_and_layout():
    vec = torch.randn(4, 3, dtype=torch.float64)
    basis = EdgeBasis(vec, max_degree=2)
    for l_out in range(3):
        layout = path_layout(l_out, (0, 1, 2))
        filters = [b[1] - a[1] for a, b in zip(layout, layout[1:], strict=False)]
        assert filters == [2 * min(k, l_out) + 1 for k in (0, 1)]  # 2 min(k, l) + 1 per pair
        assert [col for _, _, col in layout] == [0, 1, 4]
        total = sum(2 * min(k, l_out) + 1 for k in range(3))
        assert basis.kernel(l_out, (0, 1, 2)).shape == (4, (2 * l_out + 1) * total, 9)


def test_basis_zero_vector_is_finite():
    vec = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    basis = EdgeBasis(vec, max_degree=2)
    assert torch.equal(basis.sh[:, 0], torch.ones(2, dtype=torch.float64))
    assert torch.all(basis.sh[:, 1:] == 0)
    total = sum(basis.kernel(deg, (0, 1, 2)).sum() for deg in range(3))
    total.backward()
    assert torch.isfinite(vec.grad).all()


def test_spherical_harmonics_match_e3nn_normalized():
    vec = torch.randn(20, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    basis = EdgeBasis(vec, max_degree=2)
    ref = o3.spherical_harmonics([0, 1, 2, 3, 4], vec, normalize=True, normalization="component")
    assert (basis.sh - ref).abs().max() < 1e-9


def test_clebsch_gordan_cached_per_device_and_dtype():
    a = clebsch_gordan(1, 1, 1, torch.device("cpu"), torch.float32)
    assert a is clebsch_gordan(1, 1, 1, torch.device("cpu"), torch.float32)
    b = clebsch_gordan(1, 1, 1, torch.device("cpu"), torch.float64)
    assert b.dtype == torch.float64 and torch.allclose(a.double(), b, atol=1e-7)


def test_tfn_layer_equivariant_and_parity_odd_path():
    torch.manual_seed(1)
    fin, fout = Fiber({0: 2, 1: 2}), Fiber({0: 3, 1: 3, 2: 3})
    conv = TFNConv(fin, fout, 4, 8).double()
    pos = torch.randn(6, 3, dtype=torch.float64) * 2
    src, dst = torch.combinations(torch.arange(6), 2).T
    feats = {d: torch.randn(6, c, 2 * d + 1, dtype=torch.float64) for d, c in fin}
    radial = RadialBasis(4, 10.0).double()

    def run(p, f):
        basis = EdgeBasis(p[src] - p[dst], 2, radial)
        return aggregate(conv(f, basis, basis.rbf, src), dst, 6)

    rot = random_rotation(5)
    out = run(pos, feats)
    moved = run(pos @ rot.T, {d: f @ wigner_d(d, rot).T for d, f in feats.items()})
    for d in fout.degrees:
        assert (moved[d] - out[d] @ wigner_d(d, rot).T).abs().max() < 1e-12
    # Inversion (pos -> -pos, polar vectors flip): 1x1->1 (cross-product) path is parity-odd,
    # so the output is NOT the parity-transformed output: chirality is visible.
    flipped = run(-pos, {0: feats[0], 1: -feats[1]})
    assert (flipped[1] + out[1]).abs().max() > 1e-3
