"""The SE(3)-Transformer backbone: embedding, equivariant attention blocks, pooled readout."""

from __future__ import annotations

import torch
from torch import nn

from molprop.nn.attention import SE3Attention
from molprop.nn.basis import EdgeBasis, spherical_harmonics_module
from molprop.nn.fiber import Features, Fiber
from molprop.nn.inputs import GraphInputs, read_graph_batch
from molprop.nn.norm import NormNonlinearity
from molprop.nn.pooling import GraphPooling
from molprop.nn.radial import RadialBasis


class SE3Block(nn.Module):
    """Attention (with self-interaction skip), norm nonlinearity, residual if fibers match."""

    def __init__(self, fiber_in: Fiber, fiber_out: Fiber, edge_in_dim: int, **attention_kwargs):
        super().__init__()
        self.attention = SE3Attention(fiber_in, fiber_out, edge_in_dim, **attention_kwargs)
        self.nonlinearity = NormNonlinearity(fiber_out)
        self.residual = fiber_in == fiber_out

    def forward(self, feats: Features, basis: EdgeBasis, edge_in, edge_index) -> Features:
        """Map ``l -> [N, c_in, 2l+1]`` to ``l -> [N, c_out, 2l+1]``."""
        out = self.nonlinearity(self.attention(feats, basis, edge_in, edge_index))
        if self.residual:
            out = {deg: feats[deg] + f for deg, f in out.items()}
        return out


class SE3Transformer(nn.Module):
    """SE(3)-equivariant graph transformer for molecular property prediction.

    Atom features ``x`` become degree-0 channels; ``num_layers`` attention blocks produce
    features of degrees ``0..max_degree``; the degree-0 channels of the last block are pooled
    per graph and an MLP head gives ``[B, out_dim]``. Outputs are invariant to rotations and
    translations, but not to reflections when ``max_degree >= 1`` (the spherical harmonics of
    odd degree and the ``1 x 1 -> 1`` path are parity-odd, so chirality is visible).

    Args:
        in_dim: Atom feature width ``F_atom``.
        edge_dim: Bond feature width ``F_edge`` (0: no bond features).
        out_dim: Number of outputs (tasks).
        num_layers: Attention blocks.
        max_degree: Highest feature degree ``L``.
        channels: Channels per degree.
        num_heads: Attention heads (must divide ``channels``).
        radial_hidden: Hidden width of the radial MLPs.
        num_radial: Gaussians in the distance expansion.
        cutoff: Distance (Angstrom) where kernels vanish smoothly.
        pooling: ``"mean"``, ``"sum"`` or ``"max"``.
        head_hidden: Hidden width of the output MLP.
        self_interaction: ``"linear"`` or ``"attentive"``.
        si_hidden: Hidden width of attentive self-interaction MLPs.
        radial_mode: ``"channelwise"`` (lean, default) or ``"full"`` (per-edge
            ``c_out x c_in`` radial matrices as in the original paper); see ``TFNConv``.
    """

    def __init__(
        self,
        in_dim: int,
        edge_dim: int,
        out_dim: int,
        num_layers: int = 2,
        max_degree: int = 1,
        channels: int = 16,
        num_heads: int = 4,
        radial_hidden: int = 32,
        num_radial: int = 16,
        cutoff: float = 5.0,
        pooling: str = "mean",
        head_hidden: int = 64,
        self_interaction: str = "linear",
        si_hidden: int = 32,
        radial_mode: str = "channelwise",
    ):
        super().__init__()
        for name, value, low in (
            ("in_dim", in_dim, 1),
            ("edge_dim", edge_dim, 0),
            ("out_dim", out_dim, 1),
            ("num_layers", num_layers, 1),
            ("max_degree", max_degree, 0),
            ("channels", channels, 1),
            ("num_heads", num_heads, 1),
        ):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"SE3Transformer argument {name}={value!r}; expected int >= {low}")
        self.config = dict(
            in_dim=in_dim, edge_dim=edge_dim, out_dim=out_dim, num_layers=num_layers,
            max_degree=max_degree, channels=channels, num_heads=num_heads,
            radial_hidden=radial_hidden, num_radial=num_radial, cutoff=float(cutoff),
            pooling=pooling, head_hidden=head_hidden, self_interaction=self_interaction,
            si_hidden=si_hidden, radial_mode=radial_mode,
        )  # fmt: skip
        self.in_dim, self.edge_dim, self.max_degree = in_dim, edge_dim, max_degree
        self.embed_dim = channels
        self.input = nn.Linear(in_dim, channels)
        self.radial_basis = RadialBasis(num_radial, cutoff)
        self.harmonics = spherical_harmonics_module(max_degree)  # no parameters or buffers
        hidden = Fiber.uniform(max_degree, channels)
        fibers = [Fiber({0: channels})] + [hidden] * num_layers
        kwargs = dict(
            num_heads=num_heads, radial_hidden=radial_hidden, radial_mode=radial_mode,
            self_interaction=self_interaction, si_hidden=si_hidden,
        )  # fmt: skip
        self.blocks = nn.ModuleList(
            SE3Block(fibers[i], fibers[i + 1], num_radial + edge_dim, **kwargs)
            for i in range(num_layers)
        )
        self.pool = GraphPooling(pooling)
        self.head = nn.Sequential(
            nn.Linear(channels, head_hidden), nn.SiLU(), nn.Linear(head_hidden, out_dim)
        )

    def _inputs(self, batch) -> GraphInputs:
        ref = self.input.weight
        return read_graph_batch(batch, self.in_dim, self.edge_dim, ref.dtype, ref.device)

    def _features(self, g: GraphInputs) -> list[Features]:
        src, dst = g.edge_index[0], g.edge_index[1]
        edge_vec = g.pos.index_select(0, src) - g.pos.index_select(0, dst)
        basis = EdgeBasis(edge_vec, self.max_degree, self.radial_basis, self.harmonics)
        edge_in = torch.cat([basis.rbf, g.edge_attr], dim=-1)
        feats = {0: self.input(g.x).unsqueeze(-1)}
        history = [feats]
        for block in self.blocks:
            feats = block(feats, basis, edge_in, g.edge_index)
            history.append(feats)
        return history

    def forward_features(self, batch) -> list[Features]:
        """Per-node features after every layer.

        Args:
            batch: PyG ``Batch``/``Data`` with ``x [N, in_dim]``, ``pos [N, 3]``,
                ``edge_index [2, E]``, ``edge_attr [E, edge_dim]`` and ``batch [N]`` (optional).

        Returns:
            ``num_layers + 1`` dicts ``degree -> [N, channels, 2l+1]``: entry 0 is the embedded
            input (degree 0 only), entry ``i`` the output of block ``i``. Degree-``l`` features
            rotate with ``e3nn.o3.Irrep(l, p).D_from_matrix(R)`` when ``pos -> pos @ R.T``.
        """
        return self._features(self._inputs(batch))

    def _pool(self, features: list[Features], g: GraphInputs) -> torch.Tensor:
        scalars = features[-1][0].squeeze(-1)  # [N, channels]
        return self.pool(scalars, g.batch, g.num_graphs)

    def pool_features(self, features: list[Features], batch) -> torch.Tensor:
        """Pooled invariant embedding ``[B, channels]`` of ``forward_features(batch)``."""
        return self._pool(features, self._inputs(batch))

    def _embed(self, g: GraphInputs) -> torch.Tensor:
        return self._pool(self._features(g), g)

    def embed(self, batch) -> torch.Tensor:
        """Pooled invariant per-graph embedding ``[B, channels]``."""
        return self._embed(self._inputs(batch))

    def forward(self, batch) -> torch.Tensor:
        """Predict ``[B, out_dim]`` invariant outputs for a batch of graphs."""
        return self.head(self._embed(self._inputs(batch)))
