"""Uncertainty wired into train and predict: record in model/, metrics, plot and columns."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SMILES, compose_train, csv_overrides

from molprop import artifacts
from molprop.cli.predict import main
from molprop.columns import output_columns
from molprop.exceptions import InputError
from molprop.inference.stream import predict
from molprop.train.run import train
from molprop.uncertainty import CalibrationSet, uncertainty_columns
from molprop.uncertainty.config import UncertaintyConfig

PREDICT = ["CCO", "CCCCCCO", "c1ccccc1CC", "CC(C)CCO"]
REGRESSION_SCORES = {"nll", "miscalibration_area", "ence", "spearman", "top_half_ratio"}
REGRESSION_SCORES |= {"coverage", "mean_width"}


def _check_parts(section: dict, names: list[str]) -> None:
    """``parts`` has every combination, finite scores, and the run's own one as ``test``.

    Scores that are null in the run's own ``test`` scores (the width of an infinite
    interval: too few validation molecules for 90 %) are null in every combination too. The
    conformer spread of these barely trained models is ~0, so alone it may be floored to a
    constant std, whose Spearman correlation is undefined (null).
    """
    parts = section["parts"]
    assert list(parts) == names
    defined = {k for k in REGRESSION_SCORES if section["test"][k] is not None}
    assert {"nll", "spearman", "top_half_ratio"} <= defined
    for name, scores in parts.items():
        finite = defined - ({"spearman"} if name == "conformer" else set())
        assert np.isfinite([scores[k] for k in finite]).all(), name
        assert scores["n"] == section["test"]["n"] and "nll_ci" not in scores
    own = parts["+".join(section["components"])]
    assert {k: own[k] for k in defined} == pytest.approx({k: section["test"][k] for k in defined})


def _train(tiny_csv, cache_dir, run_dir: Path, extra: list[str]) -> Path:
    train(compose_train(csv_overrides(tiny_csv, run_dir, cache_dir) + extra))
    return run_dir


@pytest.fixture(scope="module")
def ensemble_run(tiny_csv, cache_dir, tmp_path_factory) -> Path:
    """Regression, M = 2 members: auto components = the ensemble variance and the distance.

    12 validation molecules: the 90 % conformal interval is finite from 9 on (n / (n + 1)).
    """
    extra = ["ensemble.size=2", "data.split_sizes=[0.5,0.375,0.125]"]
    return _train(tiny_csv, cache_dir, tmp_path_factory.mktemp("unc_m2"), extra)


def test_training_writes_record_metrics_plot_and_columns(ensemble_run):
    spec = json.loads((ensemble_run / "model" / "model.json").read_text())
    assert spec["variance_head"] is False
    record = CalibrationSet.from_dict(spec["uncertainty"])
    assert record.components == ("ensemble", "distance") and record.task_names == ["logp"]
    assert record.tasks[0].coverage == 0.9 and len(record.tasks[0].scores) == 12
    section = json.loads((ensemble_run / "metrics.json").read_text())["uncertainty"]
    assert section["components"] == ["ensemble", "distance"] and section["coverage"] == 0.9
    assert section["distance_weight"]["logp"] == record.tasks[0].distance_weight >= 0
    test = section["test"]
    assert REGRESSION_SCORES <= set(test) and len(test["selective_rmse"]) == 10
    assert np.isfinite([test[k] for k in REGRESSION_SCORES]).all()
    assert "nll_ci" in test  # the bootstrap interval
    _check_parts(section, [
        "conformer", "ensemble", "distance", "conformer+ensemble", "conformer+distance",
        "ensemble+distance", "conformer+ensemble+distance",
    ])  # fmt: skip
    assert (ensemble_run / "calibration.png").stat().st_size > 1000
    frame = pd.read_csv(ensemble_run / "test_predictions.csv")
    columns = uncertainty_columns(["logp"], "regression", distance=True)
    assert list(frame.columns)[-5:] == [*columns, "num_conformers"]
    assert ((frame.logp_train_distance >= 0) & (frame.logp_train_distance <= 1)).all()
    # the stored record reproduces the test columns from the raw ensemble spread and distance
    std, lower, upper = record.apply(
        frame[["logp"]], frame[["logp_ensemble_std"]], None, frame[["logp_train_distance"]]
    )
    np.testing.assert_allclose(frame["logp_std"], std[:, 0], rtol=1e-6)
    np.testing.assert_allclose(frame["logp_upper"], upper[:, 0], rtol=1e-6)
    observed = (
        (frame.logp_true >= frame.logp_lower) & (frame.logp_true <= frame.logp_upper)
    ).mean()
    assert test["coverage"] == pytest.approx(observed)


def test_predict_gives_calibrated_intervals_at_the_chosen_coverage(ensemble_run, tmp_path):
    wide = predict(ensemble_run, PREDICT)
    assert list(wide.columns) == ["smiles"] + output_columns(
        ["logp"], 2, uncertainty_columns(["logp"], "regression", distance=True)
    )
    assert np.isfinite(wide["logp_std"]).all() and (wide["logp_std"] > 0).all()
    assert (wide.logp_lower < wide.logp).all() and (wide.logp < wide.logp_upper).all()
    narrow = predict(ensemble_run, PREDICT, coverage=0.5)
    np.testing.assert_allclose(narrow["logp_std"], wide["logp_std"])
    assert ((narrow.logp_upper - narrow.logp_lower) < (wide.logp_upper - wide.logp_lower)).all()
    # the training run's test molecules get the same columns from predict
    test = pd.read_csv(ensemble_run / "test_predictions.csv")
    again = predict(ensemble_run, [SMILES[r] for r in test["row"]])
    np.testing.assert_allclose(again["logp_upper"], test["logp_upper"], atol=1e-4)


def test_cli_coverage_is_validated(ensemble_run, capsys):
    assert main([str(ensemble_run), "--smiles", "CCO", "--coverage", "1.5", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--coverage: received 1.5" in err
    assert main([str(ensemble_run), "--smiles", "CCO", "--coverage", "0.5", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "logp_lower" in out.splitlines()[0]


def test_old_run_predicts_and_names_missing_columns(ensemble_run, tmp_path, caplog):
    old = tmp_path / "old"
    shutil.copytree(ensemble_run / "model", old / "model")
    path = old / "model" / "model.json"
    raw = json.loads(path.read_text())
    raw.pop("variance_head"), raw.pop("uncertainty")
    path.write_text(json.dumps(raw))
    assert artifacts.load_spec(old).uncertainty is None
    with caplog.at_level(logging.WARNING):
        frame = predict(old, PREDICT)
    notes = [r.getMessage() for r in caplog.records if "cannot give" in r.getMessage()]
    assert len(notes) == 1 and "logp_std, logp_lower, logp_upper" in notes[0]
    assert list(frame.columns) == ["smiles"] + output_columns(["logp"], 2)
    np.testing.assert_allclose(frame["logp"], predict(ensemble_run, PREDICT)["logp"])


def test_variance_head_run_end_to_end(tiny_csv, cache_dir, tmp_path):
    run = _train(tiny_csv, cache_dir, tmp_path, ["model.variance_head=true"])
    spec = artifacts.load_spec(run)
    assert spec.variance_head and spec.uncertainty["components"] == ["mve", "distance"]
    test = pd.read_csv(run / "test_predictions.csv")
    assert (test["logp_mve_std"] > 0).all()
    section = json.loads((run / "metrics.json").read_text())["uncertainty"]
    _check_parts(section, [
        "conformer", "mve", "distance", "conformer+mve", "conformer+distance", "mve+distance",
        "conformer+mve+distance",
    ])  # fmt: skip
    frame = predict(run, PREDICT)
    assert list(frame.columns) == ["smiles"] + output_columns(
        ["logp"], 1, uncertainty_columns(["logp"], "regression", variance_head=True, distance=True)
    )
    record = CalibrationSet.from_dict(spec.uncertainty)
    std, _, _ = record.apply(
        frame[["logp"]], frame[["logp_mve_std"]], None, frame[["logp_train_distance"]]
    )
    np.testing.assert_allclose(frame["logp_std"], std[:, 0], rtol=1e-5)


def test_classification_run_gives_calibrated_probabilities(cache_dir, tmp_path):
    from rdkit import Chem
    from rdkit.Chem import Crippen

    logp = [Crippen.MolLogP(Chem.MolFromSmiles(s)) for s in SMILES]
    csv = tmp_path / "cls.csv"
    median = float(np.median(logp))
    pd.DataFrame({"smiles": SMILES, "logp": [float(v > median) for v in logp]}).to_csv(csv)
    run = _train(csv, cache_dir, tmp_path / "run", ["uncertainty.method=isotonic"])
    spec = artifacts.load_spec(run)
    assert spec.task == "classification" and spec.uncertainty["method"] == "isotonic"
    section = json.loads((run / "metrics.json").read_text())["uncertainty"]
    assert {"brier", "ece"} <= set(section["test"]["calibrated"]) <= set(section["test"]["raw"])
    frame = predict(run, PREDICT)
    p = frame["logp_calibrated"]
    assert ((p >= 0) & (p <= 1)).all()
    np.testing.assert_allclose(frame["logp_std"], np.sqrt(p * (1 - p)))
    assert "logp_lower" not in frame.columns


def test_uncertainty_config_is_checked_before_training(tiny_csv, cache_dir, tmp_path):
    with pytest.raises(InputError, match="ensemble needs M > 1"):
        _train(tiny_csv, cache_dir, tmp_path, ["uncertainty.components=[ensemble]"])
    assert not (tmp_path / "checkpoints").exists()
    with pytest.raises(InputError, match=r"uncertainty.coverage: received 1.0"):
        UncertaintyConfig.from_dict({"coverage": 1.0})
    with pytest.raises(InputError, match="uncertainty.level: unknown setting"):
        UncertaintyConfig.from_dict({"level": 0.9})
    assert UncertaintyConfig(components=["mve", "ensemble"]).components == ("mve", "ensemble")


def test_variance_head_default_is_the_module_default():
    import inspect

    from molprop.lit.module import MolpropModule

    default = inspect.signature(MolpropModule).parameters["variance_head"].default
    assert compose_train([]).model.variance_head is default is False


def test_calibration_that_cannot_be_fitted_is_reported_not_fatal(tmp_path):
    import torch

    from molprop.train.evaluate import ConformerPredictions, evaluate
    from molprop.train.uncertainty import calibrate_and_score, member_parts

    def stage(n: int):
        preds = [
            ConformerPredictions(
                torch.randn(2 * n, 1) + m,
                torch.arange(2 * n, dtype=torch.float32)[:, None] // 2,
                torch.arange(2 * n) // 2,
                torch.arange(2 * n) % 2,
            )
            for m in range(2)
        ]
        return evaluate(preds, "regression", ["y"]), member_parts(preds, [None, None], "mean")

    (val, val_parts), (test, test_parts) = stage(1), stage(5)
    parts = {"val": val_parts, "test": test_parts}
    cfg = compose_train([])
    result = calibrate_and_score(cfg, "regression", ["y"], val, test, parts, tmp_path / "c.png")
    assert result.record is None and result.columns == {}
    assert "expected at least 2 validation molecules" in result.metrics["skipped"]
    (val, val_parts) = stage(12)
    parts["val"] = val_parts
    result = calibrate_and_score(cfg, "regression", ["y"], val, test, parts, tmp_path / "c.png")
    assert result.record.components == ("ensemble",) and len(result.columns["y_std"]) == 5
    assert (tmp_path / "c.png").is_file()


def test_run_without_its_training_fingerprints_is_one_line(ensemble_run, tmp_path, capsys):
    """A calibration with the distance part needs ``model/train_fingerprints.safetensors``."""
    copy = tmp_path / "copy"
    shutil.copytree(ensemble_run / "model", copy / "model")
    (copy / "model" / "train_fingerprints.safetensors").unlink()
    assert main([str(copy), "--smiles", "CCO", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "train_fingerprints.safetensors" in err
    # without the distance part in its record the same run predicts (std from the ensemble)
    path = copy / "model" / "model.json"
    raw = json.loads(path.read_text())
    raw["uncertainty"]["components"] = ["ensemble"]
    for task in raw["uncertainty"]["tasks"]:
        task["distance_weight"] = 0.0
    path.write_text(json.dumps(raw))
    frame = predict(copy, PREDICT)
    assert "logp_train_distance" not in frame and np.isfinite(frame["logp_std"]).all()
