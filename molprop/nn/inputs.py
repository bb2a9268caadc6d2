"""Shape and dtype checks of the graph batch handed to the backbone (``molprop.data.keys``).

Only metadata is checked here (shapes, dtypes, presence), so reading a batch never waits for
the device. Value checks (``edge_index`` within ``[0, N)``) run where graphs are made or
loaded: :func:`molprop.data.keys.check_edge_index`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from molprop.data import keys
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


def _check_shape(name: str, value: torch.Tensor, want: tuple, expected: str, **sizes: int) -> None:
    """Raise unless ``value.shape`` matches ``want`` (``None``: any size).

    ``expected`` is formatted with ``sizes`` only when the check fails: turning a size into
    text pins it to one value under ``torch.compile``, which would recompile every batch.
    """
    ok = value.dim() == len(want) and all(
        w is None or g == w for g, w in zip(value.shape, want, strict=False)
    )
    if not ok:
        expected = expected.format(**{k: int(v) for k, v in sizes.items()})
        raise InputError(
            f"batch field '{name}' has shape {tuple(value.shape)}; expected {expected}"
        )


def _graph_ids(batch, num: int, device: torch.device) -> tuple[torch.Tensor, int]:
    """Graph id of every node and the number of graphs, without reading tensor values."""
    graph = getattr(batch, keys.BATCH, None)
    if graph is None:  # one graph
        return torch.zeros(num, dtype=torch.long, device=device), 1
    _check_shape(keys.BATCH, graph, (num,), "[N={N}]", N=num)
    num_graphs = getattr(batch, "num_graphs", None)
    if not isinstance(num_graphs, int):
        raise InputError(
            f"batch has a '{keys.BATCH}' field but num_graphs={num_graphs!r}; expected the int "
            "that torch_geometric Batch objects carry"
        )
    return graph, num_graphs


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
    x = _field(batch, keys.NODE_FEATURES, f"[N, {in_dim}]")
    _check_shape(keys.NODE_FEATURES, x, (None, in_dim), f"[N, in_dim={in_dim}]")
    num = x.shape[0]
    pos = _field(batch, keys.POSITIONS, "[N, 3]")
    _check_shape(keys.POSITIONS, pos, (num, 3), "[N={N}, 3]", N=num)
    edge_index = _field(batch, keys.EDGE_INDEX, "[2, E]")
    _check_shape(keys.EDGE_INDEX, edge_index, (2, None), "[2, E]")
    if edge_index.dtype != torch.long:
        raise InputError(
            f"batch field '{keys.EDGE_INDEX}' has dtype {edge_index.dtype}; expected torch.long"
        )
    num_edges = edge_index.shape[1]
    edge_attr = getattr(batch, keys.EDGE_FEATURES, None)
    if edge_attr is None and edge_dim == 0:
        edge_attr = x.new_zeros(num_edges, 0)
    if edge_attr is None:
        edge_attr = _field(batch, keys.EDGE_FEATURES, f"[E, {edge_dim}]")
    _check_shape(
        keys.EDGE_FEATURES,
        edge_attr,
        (num_edges, edge_dim),
        f"[E={{E}}, {edge_dim}]",
        E=num_edges,
    )
    graph, num_graphs = _graph_ids(batch, num, x.device)
    for name, value in (
        (keys.NODE_FEATURES, x),
        (keys.POSITIONS, pos),
        (keys.EDGE_FEATURES, edge_attr),
    ):
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
