"""model/ artifacts: weights-only round trip and clear errors for bad run directories."""

import json

import pytest
import torch
from safetensors.torch import load_file
from torch_geometric.data import Batch, Data

from molprop import artifacts
from molprop.artifacts import ArtifactError, ModelSpec, load_model
from molprop.model import PropertyModel

BACKBONE = {
    "in_dim": 5,
    "edge_dim": 3,
    "num_layers": 1,
    "max_degree": 1,
    "channels": 8,
    "num_heads": 2,
    "radial_hidden": 8,
    "num_radial": 4,
    "head_hidden": 8,
}


def spec(**kwargs):
    base = dict(
        task="regression",
        task_names=["a", "b"],
        backbone={**BACKBONE, "out_dim": 2},
        scaler_mean=[1.0, -1.0],
        scaler_std=[2.0, 0.5],
        conformers={"pool_size": 3},
        graph={"hydrogens": "implicit", "cutoff": 5.0, "max_neighbors": 8},
        bagging={"num_conformers": 3, "aggregate": "mean"},
        data={"smiles_column": "smiles"},
        num_members=2,
    )
    return ModelSpec(**{**base, **kwargs})


def batch():
    torch.manual_seed(0)
    graphs = [
        Data(
            x=torch.randn(4, 5),
            pos=torch.randn(4, 3),
            edge_index=torch.tensor([[0, 1, 2, 3, 0, 2], [1, 0, 3, 2, 2, 0]]),
            edge_attr=torch.randn(6, 3),
        )
        for _ in range(3)
    ]
    return Batch.from_data_list(graphs)


@pytest.fixture()
def run_dir(tmp_path):
    s = spec()
    models = []
    for m in range(2):
        torch.manual_seed(m)
        model = PropertyModel(BACKBONE, s.task_names, s.task, s.scaler_mean, s.scaler_std)
        artifacts.save_member(tmp_path, m, model)
        models.append(model.eval())
    artifacts.save_spec(tmp_path, s)
    return tmp_path, models


def test_weights_only_round_trip(run_dir):
    path, originals = run_dir
    loaded = load_model(path)
    assert len(loaded) == 2
    b = batch()
    for original, model in zip(originals, loaded, strict=True):
        assert torch.allclose(original.predict(b), model.predict(b), atol=1e-6)
        assert model.spec.task_names == ["a", "b"] and model.spec.bagging["num_conformers"] == 3
    # files are plain safetensors (no pickle) and scaler buffers travel with the weights
    state = load_file(str(path / "model" / "member_0.safetensors"))
    assert state["scaler_std"].tolist() == [2.0, 0.5]
    # torch.load(weights_only=True) of the same tensors also works (no custom classes)
    torch.save(state, path / "state.pt")
    assert set(torch.load(path / "state.pt", weights_only=True)) == set(state)


@pytest.mark.parametrize("problem", ["missing_dir", "no_model", "version", "member", "shape"])
def test_clear_errors(run_dir, problem):
    path, _ = run_dir
    model_json = path / "model" / "model.json"
    if problem == "missing_dir":
        path = path / "nope"
    elif problem == "no_model":
        model_json.unlink()
    elif problem == "version":
        raw = json.loads(model_json.read_text())
        model_json.write_text(json.dumps({**raw, "format_version": 99}))
    elif problem == "member":
        (path / "model" / "member_1.safetensors").unlink()
    elif problem == "shape":
        raw = json.loads(model_json.read_text())
        raw["backbone"]["channels"] = 16
        model_json.write_text(json.dumps(raw))
    with pytest.raises(ArtifactError, match=str(path.name)):
        load_model(path)


def test_plots_write_pngs(tmp_path):
    import pandas as pd

    from molprop.train import plots

    frame = pd.DataFrame(
        {
            "a_true": [0.0, 1.0, 1.0, 0.0, float("nan")],
            "a": [0.2, 0.7, 0.9, 0.4, 0.5],
            "a_conformer_std": [0.1, 0.0, 0.2, 0.1, 0.0],
        }
    )
    assert plots.parity_plot(frame, ["a"], tmp_path / "parity.png").stat().st_size > 0
    assert plots.roc_plot(frame, ["a"], tmp_path / "roc.png").stat().st_size > 0
