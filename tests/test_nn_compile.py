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


def test_compile_option_forward_matches_eager():
    """``PropertyModel(compile=True)`` runs its compiled layers and computes the same output.

    A batch of another size reuses the compiled code (shapes stay symbolic: formatting a size
    into a message, for one, would pin it) and the compiled code reads the module's weights.
    """
    pytest.importorskip("torch._inductor")
    backbone = dict(in_dim=IN_DIM, edge_dim=EDGE_DIM, **TINY)
    torch.manual_seed(0)
    fast = PropertyModel(backbone, ["a", "b"], compile=True).eval()
    plain = PropertyModel(backbone, ["a", "b"]).eval()
    plain.load_state_dict(fast.state_dict())
    graphs = graph_set("random", torch.float32)
    two, three = Batch.from_data_list(graphs[:2]), Batch.from_data_list(graphs[:3])
    try:
        with torch.no_grad():
            out = fast(three)
    except (TypeError, AttributeError):  # a bug in the model, not a missing compiler
        raise
    except Exception as err:  # no C++ compiler: skip
        pytest.skip(f"inductor unavailable: {type(err).__name__}: {str(err)[:200]}")
    with torch.no_grad():
        assert torch.allclose(out, plain(three), rtol=1e-4, atol=1e-5)
        for model in (fast, plain):  # the same change of weights in both
            model.backbone.head[-1].bias.add_(0.5)
        with torch._dynamo.config.patch(error_on_recompile=True):
            out = fast(two)
            vectors = fast.forward_features(two)[-1][1]  # what denoising reads
        assert torch.allclose(out, plain(two), rtol=1e-4, atol=1e-5)
        assert torch.allclose(vectors, plain.forward_features(two)[-1][1], rtol=1e-4, atol=1e-5)
