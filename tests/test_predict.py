"""Tests of prediction (molprop.inference.stream and predict.py) on tiny saved runs."""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molprop import artifacts
from molprop.cli.predict import main
from molprop.columns import ERROR_COLUMN, NUM_CONFORMERS_COLUMN, output_columns
from molprop.inference.predictor import Predictor
from molprop.inference.stream import predict
from molprop.uncertainty import uncertainty_columns

ROOT = Path(__file__).resolve().parents[1]
TASKS = ["alpha", "beta"]
ROWS = ["CCO", "not_a_smiles", "CC(=O)O", "", "C1CC", "c1ccccc1O", "C[C@H](N)C(=O)O"]
BAD = {1: "invalid SMILES", 3: "invalid SMILES", 4: "invalid SMILES"}


def make_run(
    path: Path,
    task: str = "regression",
    members: int = 1,
    max_degree: int = 1,
    layers: int = 2,
    seed: int = 0,
) -> Path:
    """Save an untrained tiny model as a run directory through molprop.artifacts."""
    from molprop.data.featurize import ATOM_FEATURE_DIM, BOND_FEATURE_DIM

    backbone = dict(
        in_dim=ATOM_FEATURE_DIM,
        edge_dim=BOND_FEATURE_DIM,
        out_dim=len(TASKS),
        num_layers=layers,
        max_degree=max_degree,
        channels=4,
        num_heads=2,
        radial_hidden=8,
        num_radial=6,
        head_hidden=8,
    )
    spec = artifacts.ModelSpec(
        task=task,
        task_names=TASKS,
        backbone=backbone,
        scaler_mean=[1.0, -2.0],
        scaler_std=[2.0, 0.5],
        conformers=dict(
            pool_size=3,
            seed=0,
            prune_rms=0.0,
            max_attempts=5,
            optimize="mmff",
            timeout=60,
            num_workers=1,
        ),
        graph=dict(hydrogens="implicit", cutoff=5.0, max_neighbors=16),
        bagging=dict(num_conformers=2, train_sampling="sample", aggregate="mean"),
        data=dict(smiles_column="smiles", largest_fragment=True),
        num_members=members,
    )
    artifacts.save_spec(path, spec)
    for m in range(members):
        torch.manual_seed(seed + m)
        artifacts.save_member(path, m, artifacts.build_model(spec))
    return path


@pytest.fixture(scope="session")
def reg_run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("reg_run"))


@pytest.fixture(scope="session")
def cls_run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("cls_run"), task="classification", members=2)


@pytest.fixture(scope="session")
def trained_run(tiny_csv, cache_dir, tmp_path_factory) -> Path:
    """A real (tiny) training run of the app on the conftest CSV."""
    from conftest import compose_train, csv_overrides

    from molprop.train.run import train

    run_dir = tmp_path_factory.mktemp("trained_run")
    train(compose_train(csv_overrides(tiny_csv, run_dir, cache_dir)))
    return run_dir


@pytest.fixture(scope="session")
def rows_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("inputs") / "rows.csv"
    pd.DataFrame(
        {
            "id": [f"m{i}" for i in range(len(ROWS))],
            "smiles": ROWS,
            "alpha": ["x"] * len(ROWS),
            "note": ["keep 1.50"] * len(ROWS),
        }
    ).to_csv(path, index=False)
    return path


def test_csv_rows_order_and_errors(reg_run, rows_csv, tmp_path):
    out = tmp_path / "out.csv"
    code = main(
        [str(reg_run), "--input", str(rows_csv), "--output", str(out), "--workers", "1", "--quiet"]
    )
    assert code == 0
    frame = pd.read_csv(out, keep_default_na=False, dtype=str)
    expected = ["id", "smiles", "alpha_input", "note"] + output_columns(TASKS, 1)
    assert list(frame.columns) == expected
    assert frame["id"].tolist() == [f"m{i}" for i in range(len(ROWS))]
    assert frame["smiles"].tolist() == ROWS and set(frame["note"]) == {"keep 1.50"}
    for i, row in frame.iterrows():
        if i in BAD:
            assert row[ERROR_COLUMN].startswith(BAD[i])
            assert row["alpha"] == "" and row[NUM_CONFORMERS_COLUMN] == "0"
        else:
            assert row[ERROR_COLUMN] == ""
            assert np.isfinite(float(row["alpha"])) and np.isfinite(float(row["beta"]))
            assert int(row[NUM_CONFORMERS_COLUMN]) == 2  # bagging.num_conformers of the run
            assert float(row["alpha_conformer_std"]) >= 0


def test_train_then_predict_round_trip(trained_run, tiny_csv, tmp_path):
    """Predict the training CSV with invalid rows inserted: order, errors, test predictions."""
    table = pd.read_csv(tiny_csv)
    bad = pd.DataFrame({"smiles": ["C1CC", "Xx"], "logp": [1.0, 2.0]})
    rows = pd.concat([bad.iloc[:1], table, bad.iloc[1:]], ignore_index=True)
    path = tmp_path / "with_invalid.csv"
    rows.to_csv(path, index=False)
    out = tmp_path / "pred.csv"
    assert main([str(trained_run), "--input", str(path), "--output", str(out), "--quiet"]) == 0
    frame = pd.read_csv(out, keep_default_na=False)
    assert frame["smiles"].tolist() == rows["smiles"].tolist()
    # a run trained with calibration adds its calibrated columns (molprop.uncertainty)
    calibrated = uncertainty_columns(["logp"], "regression", distance=True)
    assert list(frame.columns) == ["smiles", "logp_input"] + output_columns(["logp"], 1, calibrated)
    errors = frame[ERROR_COLUMN].tolist()
    assert errors[0].startswith("invalid SMILES") and errors[-1].startswith("invalid SMILES")
    assert all(e == "" for e in errors[1:-1])
    # the test-split predictions of training are reproduced (same conformers, same bagging)
    test = pd.read_csv(trained_run / "test_predictions.csv")
    got = frame.iloc[test["row"] + 1]
    np.testing.assert_allclose(got["logp"].astype(float), test["logp"], atol=1e-5)
    np.testing.assert_allclose(got[NUM_CONFORMERS_COLUMN].astype(int), test["num_conformers"])


def test_stdout_smiles(reg_run, capsys):
    code = main([str(reg_run), "--smiles", "CCO", "C#N", "[NH4+]", "--workers", "1"])
    captured = capsys.readouterr()
    assert code == 0
    frame = pd.read_csv(io.StringIO(captured.out))
    assert frame["smiles"].tolist() == ["CCO", "C#N", "[NH4+]"]
    assert list(frame.columns) == ["smiles"] + output_columns(TASKS, 1)
    assert "alpha_conformer_std" not in captured.err  # only the CSV goes to stdout


def test_classification_ensemble(cls_run):
    frame = predict(cls_run, smiles=["CCO", "c1ccncc1", "bad(", "OCC(O)CO"], workers=1)
    assert list(frame.columns) == ["smiles"] + output_columns(TASKS, 2)
    assert "alpha_ensemble_std" in frame and "beta_ensemble_std" in frame
    ok = frame[frame[ERROR_COLUMN] == ""]
    assert len(ok) == 3 and frame.loc[2, ERROR_COLUMN].startswith("invalid SMILES")
    for task in TASKS:
        assert ok[task].between(0, 1).all()
        assert (ok[f"{task}_ensemble_std"] > 0).all()  # two differently seeded members
        assert (ok[f"{task}_conformer_std"] >= 0).all()


def test_num_conformers_override(reg_run):
    frame = predict(reg_run, smiles=["CCCO", "CCN"], num_conformers=1, workers=1)
    assert frame[NUM_CONFORMERS_COLUMN].tolist() == [1, 1]
    assert (frame["alpha_conformer_std"] == 0).all()


def _write_sdf(path: Path) -> None:
    """Records: a chiral conformer, a rotated+translated copy, its mirror image, 2-conf mol."""
    from rdkit import Chem
    from rdkit.Chem import AllChem
    from scipy.spatial.transform import Rotation

    mol = Chem.AddHs(Chem.MolFromSmiles("C[C@H](N)C(=O)O"))
    AllChem.EmbedMolecule(mol, randomSeed=7)
    pos = mol.GetConformer().GetPositions()
    rotation = Rotation.from_euler("xyz", [0.7, -1.3, 2.1]).as_matrix()
    variants = {
        "orig": pos,
        "moved": pos @ rotation.T + np.array([3.0, -4.0, 10.0]),
        "mirror": pos * np.array([-1.0, 1.0, 1.0]),
    }
    writer = Chem.SDWriter(str(path))
    for name, coords in variants.items():
        copy = Chem.Mol(mol)
        conf = copy.GetConformer()
        for i, xyz in enumerate(coords):
            conf.SetAtomPosition(i, xyz.tolist())
        copy.SetProp("_Name", name)
        copy.SetProp("source", "test")
        writer.write(copy)
    ethanol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
    for cid in AllChem.EmbedMultipleConfs(ethanol, 2, randomSeed=1):
        ethanol.SetProp("_Name", "ethanol")
        writer.write(ethanol, confId=cid)
    writer.close()


@pytest.mark.filterwarnings("ignore:.*repeat the SMILES")
def test_sdf_rotation_invariance_and_mirror(reg_run, tmp_path):
    sdf = tmp_path / "mols.sdf"
    _write_sdf(sdf)
    frame = predict(reg_run, input_path=sdf).set_index("_Name")
    assert frame.index.tolist() == ["orig", "moved", "mirror", "ethanol"]
    assert frame[NUM_CONFORMERS_COLUMN].tolist() == [1, 1, 1, 2]
    assert (frame[ERROR_COLUMN] == "").all()
    pred = frame[TASKS].to_numpy()
    assert np.abs(pred[1] - pred[0]).max() <= 1e-4  # SE(3) invariance
    assert np.abs(pred[2] - pred[0]).max() > 1e-4  # max_degree=1 sees chirality
    assert frame.loc["ethanol", "alpha_conformer_std"] > 0


@pytest.mark.filterwarnings("ignore:.*repeat the SMILES")
def test_mirror_geometry_alone_needs_degree_one(reg_run, tmp_path):
    """Same atom features, moved or mirrored coordinates (float64, untrained tiny models).

    Untrained, the geometric chirality signal is small (1e-6..1e-4), so it is checked in
    double precision where rotation noise is ~1e-16.
    """
    from scipy.spatial.transform import Rotation
    from torch_geometric.data import Batch

    from molprop.data.pipeline import sdf_to_graphs

    sdf = tmp_path / "mols.sdf"
    _write_sdf(sdf)
    degree0 = Predictor.from_run_dir(make_run(tmp_path / "deg0", max_degree=0))
    degree1 = Predictor.from_run_dir(reg_run)
    _, graphs, _ = sdf_to_graphs(sdf, degree1.spec.graph)
    rotation = torch.tensor(Rotation.from_euler("xyz", [0.3, 1.1, -2.0]).as_matrix())
    copies = []
    for transform in (
        torch.eye(3, dtype=torch.float64),
        rotation,
        torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)),
    ):
        graph = graphs[0][0].clone()
        graph.x, graph.edge_attr = graph.x.double(), graph.edge_attr.double()
        graph.pos = graph.pos.double() @ transform.T + 2.5
        copies.append(graph)
    batch = Batch.from_data_list(copies)
    for predictor, degree in ((degree0, 0), (degree1, 1)):
        with torch.no_grad():
            raw = predictor.models[0].double()(batch)
        assert (raw[1] - raw[0]).abs().max() < 1e-10
        mirror = (raw[2] - raw[0]).abs().max()
        assert mirror > 1e-8 if degree else mirror < 1e-10


def test_missing_and_incompatible_run_dir(reg_run, tmp_path, capsys):
    assert main([str(tmp_path / "nope"), "--smiles", "CCO"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err
    broken = tmp_path / "broken"
    shutil.copytree(reg_run, broken)
    spec_path = broken / "model" / "model.json"
    spec = json.loads(spec_path.read_text())
    spec["backbone"]["channels"] = 8  # weights were saved with 4 channels
    spec_path.write_text(json.dumps(spec))
    assert main([str(broken), "--smiles", "CCO"]) == 2
    err = capsys.readouterr().err
    assert "do not match" in err and "Traceback" not in err


def test_cli_subprocess_missing_run_dir(tmp_path):
    import subprocess

    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "predict.py"),
            str(tmp_path / "missing"),
            "--smiles",
            "C(=O)[C@@H](N)C#N",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_chunked_streaming_matches_single_chunk(reg_run, rows_csv, tmp_path):
    predictor = Predictor.from_run_dir(reg_run)
    single = predict(predictor, input_path=rows_csv, chunk_size=1000, workers=1)
    out = tmp_path / "chunked.csv"
    assert predict(predictor, input_path=rows_csv, output=out, chunk_size=2, workers=1) == 7
    chunked = pd.read_csv(out, keep_default_na=False, dtype=str)
    assert not (tmp_path / "chunked.csv.partial").exists()
    assert chunked.columns.tolist() == single.columns.tolist()
    for column in single.columns:
        if column in TASKS or column.endswith("_std"):
            got = pd.to_numeric(chunked[column]).to_numpy()
            np.testing.assert_allclose(got, single[column].to_numpy(), rtol=1e-6, atol=1e-6)
        else:
            assert chunked[column].tolist() == single[column].astype(str).tolist()


def test_header_only_csv(reg_run, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("name,smiles\n")
    frame = predict(reg_run, input_path=path)
    assert len(frame) == 0
    assert list(frame.columns) == ["name", "smiles"] + output_columns(TASKS, 1)


def test_bad_input_messages(reg_run, tmp_path, capsys):
    path = tmp_path / "no_smiles.csv"
    path.write_text("name,value\na,1\n")
    assert main([str(reg_run), "--input", str(path)]) == 2
    assert "no SMILES column" in capsys.readouterr().err
    assert main([str(reg_run), "--input", str(path), "--smiles-column", "nope"]) == 2
    assert "'nope' not found" in capsys.readouterr().err
    assert main([str(reg_run), "--input", str(tmp_path / "absent.csv")]) == 2
    assert "file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:  # argparse: exactly one source
        main([str(reg_run)])
    assert usage.value.code == 2


def test_bad_device_messages(reg_run, capsys):
    assert main([str(reg_run), "--smiles", "CCO", "--device", "gpu"]) == 2
    err = capsys.readouterr().err
    assert "--device: 'gpu' is not a torch device" in err and "Traceback" not in err
    assert main([str(reg_run), "--smiles", "CCO", "--device", "cuda:99"]) == 2
    err = capsys.readouterr().err
    assert "'cuda:99' requested" in err and "CUDA device(s)" in err
