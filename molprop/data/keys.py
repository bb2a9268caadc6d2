"""The data contract: every field a molprop graph carries, with its shape and dtype.

This module is the one place that names the fields of a per-conformer
:class:`torch_geometric.data.Data` object. Field names reuse PyG conventions
(``z``, ``x``, ``pos``, ``edge_index``, ``edge_attr``, ``batch``) so that PyG
utilities and the backbone read them directly.

Shapes use ``N`` for atoms (nodes) of one conformer, ``E`` for directed edges,
``T`` for tasks and ``B`` for graphs in a batch. After batching, node fields are
concatenated along dim 0, ``edge_index`` is offset, and per-graph fields
(``y``, ``mol_idx``, ``conf_idx``) become ``[B, ...]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from molprop.exceptions import InputError

#: Atomic numbers. Shape ``[N]``, ``torch.long``.
ATOMIC_NUMBERS = "z"
#: Invariant atom features (see ``molprop.data.featurize``). Shape ``[N, F_atom]``, float.
NODE_FEATURES = "x"
#: Cartesian coordinates in Angstrom. Shape ``[N, 3]``, float.
POSITIONS = "pos"
#: Directed edges ``(source j, target i)``, messages flow j -> i. Shape ``[2, E]``, ``torch.long``.
EDGE_INDEX = "edge_index"
#: Invariant edge features (bond type incl. "no bond", conjugation, ring). ``[E, F_edge]``, float.
EDGE_FEATURES = "edge_attr"
#: Targets of the molecule, NaN where missing. Shape ``[1, T]`` (``[B, T]`` batched), float.
TARGETS = "y"
#: Row index of the molecule in the input table. Shape ``[1]`` (``[B]`` batched), ``torch.long``.
MOL_INDEX = "mol_idx"
#: Index of the conformer within its molecule's ensemble. ``[1]`` (``[B]`` batched), long.
CONF_INDEX = "conf_idx"
#: Molecule-level descriptors, scaled (see ``molprop.data.descriptors``); the same row on every
#: conformer of a molecule. Shape ``[1, D]`` (``[B, D]`` batched), float32. Optional: only
#: runs with descriptors carry it, it is attached after loading the processed graphs (never
#: stored in them), so it is not in :data:`FIELDS`.
MOL_FEATURES = "mol_x"
#: Graph membership of each node, added by PyG batching. Shape ``[N_total]``, ``torch.long``.
BATCH = "batch"


@dataclass(frozen=True)
class Field:
    """Description of one field of the contract."""

    name: str
    shape: tuple[str, ...]
    dtype: str  # "long" or "float"
    per: str  # "node", "edge" or "graph"


FIELDS: tuple[Field, ...] = (
    Field(ATOMIC_NUMBERS, ("N",), "long", "node"),
    Field(NODE_FEATURES, ("N", "F_atom"), "float", "node"),
    Field(POSITIONS, ("N", "3"), "float", "node"),
    Field(EDGE_INDEX, ("2", "E"), "long", "edge"),
    Field(EDGE_FEATURES, ("E", "F_edge"), "float", "edge"),
    Field(TARGETS, ("1", "T"), "float", "graph"),
    Field(MOL_INDEX, ("1",), "long", "graph"),
    Field(CONF_INDEX, ("1",), "long", "graph"),
)

_DTYPES = {"long": (torch.long,), "float": (torch.float32, torch.float64)}


def validate_data(data, num_tasks: int | None = None) -> None:
    """Check that one un-batched ``Data`` object follows the contract.

    Args:
        data: A :class:`torch_geometric.data.Data` for one conformer.
        num_tasks: Expected ``T``; not checked when ``None``.

    Raises:
        ValueError: Naming the field, what was received and what was expected.
    """
    n = data.z.shape[0] if getattr(data, ATOMIC_NUMBERS, None) is not None else None
    e = data.edge_index.shape[1] if getattr(data, EDGE_INDEX, None) is not None else None
    sizes = {"N": n, "E": e, "2": 2, "3": 3, "1": 1, "T": num_tasks}
    for field in FIELDS:
        value = getattr(data, field.name, None)
        if value is None:
            raise ValueError(f"Data field '{field.name}' is missing; expected shape {field.shape}")
        if value.dtype not in _DTYPES[field.dtype]:
            raise ValueError(
                f"Data field '{field.name}' has dtype {value.dtype}; expected {field.dtype}"
            )
        if value.dim() != len(field.shape):
            raise ValueError(
                f"Data field '{field.name}' has shape {tuple(value.shape)}; "
                f"expected {len(field.shape)} dims {field.shape}"
            )
        for got, want in zip(value.shape, field.shape, strict=True):
            expected = sizes.get(want)
            if expected is not None and got != expected:
                raise ValueError(
                    f"Data field '{field.name}' has shape {tuple(value.shape)}; "
                    f"expected {field.shape} with {want}={expected}"
                )
    check_edge_index(data.edge_index, n, "Data")


def check_edge_index(edge_index: torch.Tensor, num_nodes: int, where: str = "graph") -> None:
    """Check that every ``edge_index`` entry is a node index in ``[0, num_nodes)``.

    The backbone checks only shapes and dtypes (reading values would wait for the device), so
    graphs are checked here, where they are built or loaded.

    Args:
        edge_index: ``[2, E]`` long tensor.
        num_nodes: ``N`` of the graph (or batch).
        where: What the graph is (named in the message), e.g. ``"molecule 3, conformer 0"``.

    Raises:
        InputError: Naming the field, the received range and the expected one.
    """
    if edge_index.numel() == 0:
        return
    low, high = int(edge_index.min()), int(edge_index.max())
    if low < 0 or high >= num_nodes:
        raise InputError(
            f"{where}: field '{EDGE_INDEX}' has values in [{low}, {high}]; "
            f"expected node indices in [0, {num_nodes - 1}]"
        )
