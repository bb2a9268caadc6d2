"""``torch.compile`` of the backbone: one graph (``fullgraph=True``); the ``model.compile`` flag."""

from __future__ import annotations

import pytest
import torch
from model_mixin import EDGE_DIM, IN_DIM, graph_set, single_thread  # noqa: F401
from torch_geometric.data import Batch

from molprop.model import PropertyModel
from molprop.nn import SE3Transformer

pytestmark = pytest.mark.usefixtures("single_thread")
TINY = dict(num_layers=1, max_degree=1, channels=4, num_heads=2, radial_hidden=8, num_radial=4,
            head_hidden=8)  # fmt: skip


def test_torch_compile_fullgraph():
    pytest.importorskip("torch._inductor")
    torch.manual_seed(0)
    model = SE3Transformer(IN_DIM, EDGE_DIM, 2, **TINY)
    batch = Batch.from_data_list(graph_set("random", torch.float32)[:2])
    model.eval()
    try:  # inference graph only: keeps inductor's C++ build to a few seconds
        compiled = torch.compile(model, fullgraph=True, dynamic=False)
        with torch.no_grad():
            out = compiled(batch)
    except Exception as err:  # no C++ compiler: skip; a graph break fails the test
        if "graph break" in str(err).lower() or "Unsupported" in type(err).__name__:
            raise
        pytest.skip(f"inductor unavailable: {type(err).__name__}: {str(err)[:200]}")
    with torch.no_grad():
        assert torch.allclose(out, model(batch), rtol=1e-4, atol=1e-5)


def test_compile_option_keeps_state_dict_and_shares_parameters():
    """``model.compile=true`` wraps the backbone lazily; weights are stored once, as before."""
    backbone = dict(in_dim=IN_DIM, edge_dim=EDGE_DIM, **TINY)
    torch.manual_seed(0)
    plain = PropertyModel(backbone, ["a", "b"])
    torch.manual_seed(0)
    fast = PropertyModel(backbone, ["a", "b"], compile=True)
    assert fast.state_dict().keys() == plain.state_dict().keys()
    assert fast._compiled is not None and plain._compiled is None
    compiled_params = {id(p) for p in fast._compiled.parameters()}
    assert compiled_params == {id(p) for p in fast.backbone.parameters()}
