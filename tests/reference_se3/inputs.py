"""Validation of the graph batch handed to the backbone (see ``molprop.data.keys``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from molprop.exceptions import InputError


@dataclass
class GraphInputs:
    """Checked tensors of a (batched) graph, cast to the model's dtype and device."""

    x: torch.Tensor  # [N, in_dim]
    pos: torch.Tensor  # [N, 3]
    edge_index: torch.Tensor  # [2, E] long
    edge_attr: torch.Tensor  # [E, edge_dim]
    batch: torch.Tensor  # [N] long
    num_graphs: int


def _field(batch, name: str, expected: str) -> torch.Tensor:
    value = getattr(batch, name, None)
    if value is None:
        raise InputError(f"batch field '{name}' is missing; expected a tensor of shape {expected}")
    if not isinstance(value, torch.Tensor):
        raise InputError(
            f"batch field '{name}' is a {type(value).__name__}; "
            f"expected a tensor of shape {expected}"
        )
    return value


def _check_shape(name: str, value: torch.Tensor, want: tuple, expected: str) -> None:
    ok = value.dim() == len(want) and all(
        w is None or g == w for g, w in zip(value.shape, want, strict=False)
    )
    if not ok:
        raise InputError(
            f"batch field '{name}' has shape {tuple(value.shape)}; expected {expected}"
        )


def read_graph_batch(
    batch, in_dim: int, edge_dim: int, dtype: torch.dtype, device: torch.device
) -> GraphInputs:
    """Read and validate ``x``, ``pos``, ``edge_index``, ``edge_attr`` and ``batch``.

    Args:
        batch: A PyG ``Data``/``Batch`` (or any object with these attributes).
        in_dim: Expected ``x.shape[1]``.
        edge_dim: Expected ``edge_attr.shape[1]``; ``edge_attr`` may be absent when 0.
        dtype: Floating dtype of the model; float fields are cast to it.
        device: Device of the model.

    Raises:
        InputError: Naming the field, the received shape/dtype/value and what was expected.
    """
    x = _field(batch, "x", f"[N, {in_dim}]")
    _check_shape("x", x, (None, in_dim), f"[N, in_dim={in_dim}]")
    num = x.shape[0]
    pos = _field(batch, "pos", "[N, 3]")
    _check_shape("pos", pos, (num, 3), f"[N={num}, 3]")
    edge_index = _field(batch, "edge_index", "[2, E]")
    _check_shape("edge_index", edge_index, (2, None), "[2, E]")
    if edge_index.dtype != torch.long:
        raise InputError(
            f"batch field 'edge_index' has dtype {edge_index.dtype}; expected torch.long"
        )
    if edge_index.numel() and (edge_index.min() < 0 or edge_index.max() >= num):
        raise InputError(
            f"batch field 'edge_index' has values in [{int(edge_index.min())}, "
            f"{int(edge_index.max())}]; expected node indices in [0, {num - 1}]"
        )
    num_edges = edge_index.shape[1]
    edge_attr = getattr(batch, "edge_attr", None)
    if edge_attr is None and edge_dim == 0:
        edge_attr = x.new_zeros(num_edges, 0)
    edge_attr = _field(batch, "edge_attr", f"[E, {edge_dim}]") if edge_attr is None else edge_attr
    _check_shape("edge_attr", edge_attr, (num_edges, edge_dim), f"[E={num_edges}, {edge_dim}]")
    graph = getattr(batch, "batch", None)
    if graph is None:
        graph, num_graphs = torch.zeros(num, dtype=torch.long, device=x.device), 1
    else:
        _check_shape("batch", graph, (num,), f"[N={num}]")
        num_graphs = getattr(batch, "num_graphs", None)
        num_graphs = (
            int(num_graphs) if num_graphs is not None else int(graph.max()) + 1 if num else 0
        )
    for name, value in (("x", x), ("pos", pos), ("edge_attr", edge_attr)):
        if not value.is_floating_point():
            raise InputError(
                f"batch field '{name}' has dtype {value.dtype}; expected a float dtype"
            )
    cast = {"dtype": dtype, "device": device}
    return GraphInputs(
        x.to(**cast),
        pos.to(**cast),
        edge_index.to(device),
        edge_attr.to(**cast),
        graph.to(device),
        num_graphs,
    )
