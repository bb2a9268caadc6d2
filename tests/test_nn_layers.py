"""Layer-level checks of molprop.nn: inputs, config round trip, pooling, attention, norms."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch
from model_mixin import EDGE_DIM, IN_DIM, graph_set, single_thread  # noqa: F401
from torch_geometric.data import Batch, Data

import molprop.nn
from molprop.data.keys import check_edge_index
from molprop.exceptions import InputError
from molprop.nn import Fiber, SE3Transformer
from molprop.nn.attention import segment_softmax
from molprop.nn.norm import NormNonlinearity
from molprop.nn.pooling import GraphPooling
from molprop.nn.self_interaction import AttentiveSelfInteraction

pytestmark = pytest.mark.usefixtures("single_thread")
TINY = dict(num_layers=1, max_degree=1, channels=4, num_heads=2, radial_hidden=8, num_radial=4)


def tiny_model(**kwargs) -> SE3Transformer:
    torch.manual_seed(0)
    return SE3Transformer(IN_DIM, EDGE_DIM, 2, **{**TINY, **kwargs})


def test_config_is_json_and_rebuilds_same_model():
    model = tiny_model(self_interaction="attentive", pooling="max")
    config = json.loads(json.dumps(model.config))
    clone = SE3Transformer(**config)
    clone.load_state_dict(model.state_dict())
    batch = Batch.from_data_list(graph_set("random", torch.float32))
    assert torch.equal(model(batch), clone(batch))


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("pos", None, ["'pos'", "missing", "[N, 3]"]),
        ("pos", torch.zeros(9, 2), ["'pos'", "(9, 2)", "[N=9, 3]"]),
        ("x", torch.zeros(9, IN_DIM + 1), ["'x'", f"(9, {IN_DIM + 1})", f"in_dim={IN_DIM}"]),
        ("edge_attr", torch.zeros(3, EDGE_DIM), ["'edge_attr'", f"(3, {EDGE_DIM})", "[E="]),
        ("edge_index", torch.zeros(2, 1), ["'edge_index'", "float32", "torch.long"]),
    ],
)
def test_invalid_inputs_name_field_received_and_expected(field, value, words):
    graph = graph_set("random", torch.float32)[0]
    setattr(graph, field, value)
    with pytest.raises(InputError) as info:
        tiny_model()(graph)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_edge_index_values_are_checked_at_the_data_boundary():
    """The backbone reads no tensor values; ``molprop.data.keys`` checks the node range."""
    with pytest.raises(InputError) as info:
        check_edge_index(torch.tensor([[0], [99]]), 9, "molecule 4, conformer 1")
    for word in ("molecule 4, conformer 1", "'edge_index'", "[0, 99]", "[0, 8]"):
        assert word in str(info.value), (word, str(info.value))
    check_edge_index(torch.tensor([[0, 8], [8, 0]]), 9)  # in range: no error
    check_edge_index(torch.zeros(2, 0, dtype=torch.long), 1)


def test_batch_field_without_num_graphs_is_rejected():
    graph = graph_set("random", torch.float32)[0]
    graph.batch = torch.zeros(graph.num_nodes, dtype=torch.long)
    with pytest.raises(InputError, match="num_graphs"):
        tiny_model()(graph)


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        (dict(channels=6, num_heads=4), "num_heads"),
        (dict(pooling="median"), "pooling"),
        (dict(self_interaction="dense"), "self_interaction"),
        (dict(radial_mode="low"), "radial_mode"),
        (dict(max_degree=-1), "max_degree"),
    ],
)
def test_invalid_constructor_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        tiny_model(**kwargs)


def test_graph_without_edges_and_double_precision():
    model = tiny_model().double()
    no_edges = torch.zeros(2, 0, dtype=torch.long)
    lonely = Data(x=torch.randn(1, IN_DIM), pos=torch.zeros(1, 3), edge_index=no_edges,
                  edge_attr=torch.zeros(0, EDGE_DIM))  # fmt: skip
    out = model(Batch.from_data_list([lonely, graph_set("rdkit", torch.float32)[0]]))
    assert out.dtype == torch.float64 and torch.isfinite(out).all()


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_pooling(mode):
    x = torch.tensor([[1.0, -2.0], [3.0, 4.0], [5.0, -6.0]])
    batch = torch.tensor([0, 0, 2])
    out = GraphPooling(mode)(x, batch, 3)
    expected = {"sum": [[4.0, 2.0]], "mean": [[2.0, 1.0]], "max": [[3.0, 4.0]]}[mode]
    assert torch.equal(out[0], torch.tensor(expected[0]))
    assert torch.equal(out[1], torch.zeros(2))  # empty graph
    assert torch.equal(out[2], x[2])


def test_segment_softmax_normalises_incoming_edges():
    logits = torch.randn(7, 3) * 50
    dst = torch.tensor([0, 0, 1, 1, 1, 3, 0])
    alpha = segment_softmax(logits, dst, 4)
    sums = torch.zeros(4, 3).index_add_(0, dst, alpha)
    assert torch.allclose(sums[[0, 1, 3]], torch.ones(3, 3)) and torch.isfinite(alpha).all()


def test_norm_and_attentive_self_interaction_finite_at_zero():
    fiber = Fiber({0: 4, 1: 4, 2: 4})
    feats = {d: torch.zeros(3, 4, 2 * d + 1, requires_grad=True) for d in fiber.degrees}
    out = NormNonlinearity(fiber)(AttentiveSelfInteraction(fiber, fiber, 8)(feats))
    sum(o.sum() for o in out.values()).backward()
    assert all(torch.isfinite(f.grad).all() for f in feats.values())


def test_nn_does_not_import_rdkit_lightning_hydra():
    banned = ("rdkit", "lightning", "pytorch_lightning", "hydra", "omegaconf")
    for path in Path(molprop.nn.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            bad = [n for n in names if n.split(".")[0] in banned]
            assert not bad, f"{path.name} imports {bad}"
