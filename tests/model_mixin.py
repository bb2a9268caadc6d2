"""Reusable symmetry and robustness checks for molprop backbones.

Subclass :class:`ModelTestMixin` in a ``Test*`` class and set ``model_kwargs`` (or override
``build_model``); every check then runs on random molecule-like graphs and on real RDKit
conformers (``graphs`` fixture) in float64 and float32 (``dtype`` fixture), on the device given
by ``pytest --device`` (default cpu; ``--device cuda`` checks a GPU). The model must
provide ``forward(batch) -> [B, out]``, ``embed(batch) -> [B, D]`` and
``forward_features(batch) -> list[dict[degree, Tensor [N, C, 2l+1]]]``, and have a
``max_degree`` attribute.

Graphs are built here directly (RDKit + ad-hoc features), independent of ``molprop.data``.
"""

from __future__ import annotations

import functools
import math

import pytest
import torch
from e3nn import o3
from torch_geometric.data import Batch, Data

ELEMENTS = (1, 6, 7, 8, 9, 17)
IN_DIM = len(ELEMENTS) + 2  # element one-hot, other, scaled degree
EDGE_DIM = 4  # no bond, single, double/aromatic, triple
CUTOFF = 5.0
#: (SMILES, chiral?) embedded with RDKit ETKDG, explicit hydrogens.
MOLECULES = (("C[C@H](N)C(=O)O", True), ("OCC(F)Cl", True), ("c1ccccc1O", False))
TOL64 = 1e-9
REL32 = 1e-4


@pytest.fixture
def single_thread():
    """Run a test with one torch thread (2 shared cores: OpenMP contention costs ~50x)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def radius_graph(pos: torch.Tensor, cutoff: float = CUTOFF) -> torch.Tensor:
    """Directed edges ``j -> i`` between distinct atoms closer than ``cutoff``: ``[2, E]``."""
    dist = torch.cdist(pos, pos)
    dist.fill_diagonal_(float("inf"))
    dst, src = torch.nonzero(dist < cutoff, as_tuple=True)
    return torch.stack([src, dst])


def random_graph(num: int, seed: int) -> Data:
    """Random molecule-like graph: atoms >= 0.9 A apart at ~0.1 atoms/A^3, random features."""
    gen = torch.Generator().manual_seed(seed)
    radius = (3 * num / (4 * math.pi * 0.1)) ** (1 / 3)
    pos = torch.empty(0, 3, dtype=torch.float64)
    while pos.shape[0] < num:
        p = (torch.rand(1, 3, generator=gen, dtype=torch.float64) * 2 - 1) * radius
        if pos.shape[0] == 0 or torch.cdist(p, pos).min() > 0.9:
            pos = torch.cat([pos, p])
    edge_index = radius_graph(pos)
    x = torch.randn(num, IN_DIM, generator=gen, dtype=torch.float64)
    edge_attr = torch.randn(edge_index.shape[1], EDGE_DIM, generator=gen, dtype=torch.float64)
    return Data(x=x, pos=pos, edge_index=edge_index, edge_attr=edge_attr)


def mol_graph(smiles: str, seed: int = 7) -> Data:
    """One RDKit ETKDG conformer with explicit H, one-hot atom and bond-type features."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    if AllChem.EmbedMolecule(mol, randomSeed=seed) != 0:
        raise RuntimeError(f"RDKit could not embed {smiles}")
    pos = torch.tensor(mol.GetConformer().GetPositions(), dtype=torch.float64)
    x = torch.zeros(mol.GetNumAtoms(), IN_DIM, dtype=torch.float64)
    for atom in mol.GetAtoms():
        z = atom.GetAtomicNum()
        x[atom.GetIdx(), ELEMENTS.index(z) if z in ELEMENTS else len(ELEMENTS)] = 1.0
        x[atom.GetIdx(), -1] = atom.GetDegree() / 4
    edge_index = radius_graph(pos)
    edge_attr = torch.zeros(edge_index.shape[1], EDGE_DIM, dtype=torch.float64)
    for e, (j, i) in enumerate(edge_index.T.tolist()):
        bond = mol.GetBondBetweenAtoms(i, j)
        order = 0 if bond is None else min(int(math.ceil(bond.GetBondTypeAsDouble())), 3)
        edge_attr[e, order] = 1.0
    return Data(x=x, pos=pos, edge_index=edge_index, edge_attr=edge_attr)


@functools.cache
def _graphs(source: str) -> tuple[Data, ...]:
    if source == "random":
        return tuple(random_graph(n, seed) for seed, n in enumerate((9, 5, 14)))
    return tuple(mol_graph(smi) for smi, _ in MOLECULES)


def graph_set(source: str, dtype: torch.dtype, device: torch.device | str = "cpu") -> list[Data]:
    """Fresh copies of the ``"random"`` or ``"rdkit"`` test graphs, as ``dtype`` on ``device``."""
    out = []
    for g in _graphs(source):
        g = g.clone()
        g.x, g.pos, g.edge_attr = g.x.to(dtype), g.pos.to(dtype), g.edge_attr.to(dtype)
        out.append(g.to(device))
    return out


def wigner_d(degree: int, rot: torch.Tensor) -> torch.Tensor:
    """e3nn Wigner-D of a rotation in float64 (e3nn builds its generators in the default dtype)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return o3.Irrep(degree, (-1) ** degree).D_from_matrix(rot.double())
    finally:
        torch.set_default_dtype(old)


def random_rotation(seed: int) -> torch.Tensor:
    """Uniformly random proper rotation matrix ``[3, 3]`` (float64), reproducible by ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=gen, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    return q if torch.det(q) > 0 else -q


def transformed(graph: Data, rot: torch.Tensor, shift: torch.Tensor) -> Data:
    """Copy of ``graph`` with ``pos -> pos @ rot.T + shift``."""
    out = graph.clone()
    rot, shift = rot.to(graph.pos.device).double(), shift.to(graph.pos.device).double()
    out.pos = (graph.pos.double() @ rot.T + shift).to(graph.pos.dtype)
    return out


def assert_close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype, what: str):
    """``max abs err <= 1e-9`` in float64, ``max abs err / max |expected| <= 1e-4`` in float32."""
    err = (actual.double() - expected.double()).abs().max().item() if actual.numel() else 0.0
    if dtype == torch.float64:
        assert err <= TOL64, f"{what}: max abs error {err:.3e} > {TOL64}"
    else:
        scale = max(expected.double().abs().max().item(), 1e-6)
        assert err / scale <= REL32, f"{what}: relative error {err / scale:.3e} > {REL32}"


class ModelTestMixin:
    """Symmetry, batching and robustness checks shared by all backbone configurations."""

    model_kwargs: dict = {}
    out_dim = 3

    @pytest.fixture(autouse=True)
    def _one_thread(self):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        yield
        torch.set_num_threads(threads)

    def build_model(self) -> torch.nn.Module:
        from molprop.nn import SE3Transformer

        return SE3Transformer(IN_DIM, EDGE_DIM, self.out_dim, **self.model_kwargs)

    @pytest.fixture(params=["random", "rdkit"])
    def source(self, request) -> str:
        return request.param

    @pytest.fixture(params=[torch.float64, torch.float32], ids=["f64", "f32"])
    def dtype(self, request) -> torch.dtype:
        return request.param

    @pytest.fixture
    def model(self, dtype, device):
        torch.manual_seed(0)
        return self.build_model().to(device=device, dtype=dtype).eval()

    @pytest.fixture
    def graphs(self, source, dtype, device) -> list[Data]:
        return graph_set(source, dtype, device)

    def test_output_shapes(self, model, graphs, dtype):
        batch = Batch.from_data_list(graphs)
        out, emb = model(batch), model.embed(batch)
        assert out.shape == (len(graphs), self.out_dim) and out.dtype == dtype
        assert emb.shape[0] == len(graphs) and torch.isfinite(out).all()

    def test_rotation_translation_invariance(self, model, graphs, dtype):
        rot = random_rotation(1)
        shift = torch.tensor([3.0, -7.0, 11.0], dtype=torch.float64)
        batch = Batch.from_data_list(graphs)
        moved = Batch.from_data_list([transformed(g, rot, shift) for g in graphs])
        assert_close(model(moved), model(batch), dtype, "rotated+translated output")
        assert_close(model.embed(moved), model.embed(batch), dtype, "rotated embedding")

    def test_features_equivariant(self, model, graphs, dtype, device):
        if model.max_degree < 1:
            pytest.skip("no degree >= 1 features")
        rot = random_rotation(2)
        batch = Batch.from_data_list(graphs)
        moved = Batch.from_data_list([transformed(g, rot, torch.ones(3)) for g in graphs])
        for layer, (ref, out) in enumerate(
            zip(model.forward_features(batch), model.forward_features(moved), strict=True)
        ):
            for degree in range(1, model.max_degree + 1):
                if degree in ref:
                    expected = ref[degree].double() @ wigner_d(degree, rot).T.to(device)
                    assert_close(out[degree], expected, dtype, f"layer {layer} degree {degree}")

    def test_permutation_invariance(self, model, graphs, dtype):
        gen = torch.Generator().manual_seed(3)
        permuted = []
        for g in graphs:
            perm = torch.randperm(g.num_nodes, generator=gen).to(g.x.device)
            inverse = torch.empty_like(perm)
            inverse[perm] = torch.arange(g.num_nodes, device=perm.device)
            order = torch.randperm(g.edge_index.shape[1], generator=gen).to(g.x.device)
            permuted.append(
                Data(
                    x=g.x[perm],
                    pos=g.pos[perm],
                    edge_index=inverse[g.edge_index][:, order],
                    edge_attr=g.edge_attr[order],
                )
            )
        out = model(Batch.from_data_list(permuted))
        assert_close(out, model(Batch.from_data_list(graphs)), dtype, "permuted output")

    def test_batched_equals_per_graph(self, model, graphs, dtype):
        batched = model(Batch.from_data_list(graphs))
        single = torch.cat([model(g) for g in graphs])  # Data without .batch: one graph
        assert_close(batched, single, dtype, "batched vs per-graph")

    def test_mirror_image(self, model, graphs, dtype, source):
        chiral = graphs  # random point clouds are generically chiral
        if source == "rdkit":
            chiral = [g for g, (_, is_chiral) in zip(graphs, MOLECULES, strict=True) if is_chiral]
        mirrored = [g.clone() for g in chiral]
        for g in mirrored:
            g.pos = -g.pos
        a, b = (
            model.embed(Batch.from_data_list(chiral)),
            model.embed(Batch.from_data_list(mirrored)),
        )
        diff = ((a - b).abs().amax(-1) / a.abs().amax(-1)).min().item()
        if model.max_degree == 0:  # E(3)-invariant; summation order may differ (CUDA atomics)
            tol = 1e-12 if dtype == torch.float64 else 1e-6
            assert diff <= tol, f"max_degree=0 must be E(3)-invariant, mirror differs by {diff}"
        else:
            floor = 1e-6 if dtype == torch.float64 else 1e-5  # f32 rounding ~1e-7
            assert diff > floor, f"mirror image not distinguished (relative diff {diff:.2e})"
        # A planar (achiral) conformer's mirror image is a rotated copy: identical output.
        planar = [g.clone() for g in graphs]
        for g in planar:
            g.pos[:, 2] = 0.0
        flat = Batch.from_data_list(planar)
        mirrored = flat.clone()
        mirrored.pos = -flat.pos
        assert_close(model(mirrored), model(flat), dtype, "mirrored planar conformer")

    def test_gradients_finite_with_coincident_atoms(self, graphs, dtype, device):
        torch.manual_seed(0)
        model = self.build_model().to(device=device, dtype=dtype).train()
        graphs = [g.clone() for g in graphs]
        graphs[0].pos[1] = graphs[0].pos[0]  # zero-length edges 0 <-> 1 (within the cutoff)
        batch = Batch.from_data_list(graphs)
        batch.pos.requires_grad_(True)
        out = model(batch)
        out.square().sum().backward()
        assert torch.isfinite(out).all()
        assert torch.isfinite(batch.pos.grad).all()
        for name, p in model.named_parameters():
            assert p.grad is None or torch.isfinite(p.grad).all(), name

    def test_batch_without_edges(self, dtype, device):
        """Single-atom molecules (methane with implicit H) give batches with E = 0."""
        torch.manual_seed(0)
        model = self.build_model().to(device=device, dtype=dtype).train()
        gen = torch.Generator().manual_seed(3)
        graphs = [
            Data(
                x=torch.randn(1, IN_DIM, generator=gen, dtype=dtype),
                pos=torch.randn(1, 3, generator=gen, dtype=dtype),
                edge_index=torch.zeros(2, 0, dtype=torch.long),
                edge_attr=torch.zeros(0, EDGE_DIM, dtype=dtype),
            ).to(device)
            for _ in range(2)
        ]
        out = model(Batch.from_data_list(graphs))
        out.square().sum().backward()
        assert out.shape == (2, self.out_dim) and torch.isfinite(out).all()
        model.eval()
        single = torch.cat([model(Batch.from_data_list([g])) for g in graphs])
        assert_close(model(Batch.from_data_list(graphs)), single, dtype, "edgeless batch")
