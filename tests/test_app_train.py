"""End-to-end training on tiny data with the real configs (CPU, tiny model)."""

import json

import pandas as pd
import pytest
import torch
from conftest import TINY, compose_train, csv_overrides

from molprop.artifacts import load_model
from molprop.bagging import aggregate_conformers, aggregate_ensemble
from molprop.train.run import train


def run_train(tiny_csv, run_dir, cache_dir, extra):
    cfg = compose_train(csv_overrides(tiny_csv, run_dir, cache_dir) + extra)
    return train(cfg)


def test_fast_dev_run_on_default_data(tmp_path, cache_dir, capsys):
    overrides = TINY + [
        "debug=fdr",
        "data.limit=16",
        f"paths.output_dir={tmp_path}",
        f"paths.cache_dir={cache_dir}",
        f"paths.data_dir={cache_dir}",
    ]
    cfg = compose_train(overrides)
    assert cfg.data.name == "chembl_freewilson" and cfg.trainer.fast_dev_run
    value = train(cfg)
    assert isinstance(value, float)
    out = capsys.readouterr().out
    assert f"molprop predict {tmp_path} --smiles 'CCO'" in out
    assert (tmp_path / "model" / "model.json").is_file()
    assert (tmp_path / "splits.json").is_file() and (tmp_path / "skipped.csv").is_file()


def test_overfit_16_molecules(tiny_csv, tmp_path, cache_dir):
    extra = [
        "data.limit=20",
        "data.split_sizes=[0.8,0.1,0.1]",
        "model=tiny",  # overfits as well as model=small here (last/first loss 0.016), 2x faster
        "bagging.num_conformers=1",
        "bagging.train_sampling=all",
        "batch_size=16",
        "scheduler=none",
        "optimizer.lr=0.01",
        "optimizer.weight_decay=0",
        "trainer.max_epochs=35",
        "trainer.check_val_every_n_epoch=35",
        "callbacks.early_stopping=null",
    ]
    run_train(tiny_csv, tmp_path, cache_dir, extra)
    splits = json.loads((tmp_path / "splits.json").read_text())
    assert len(splits["train"]) == 16
    log = pd.read_csv(next((tmp_path / "logs").glob("*/metrics.csv")))
    losses = log["train/loss_step"].dropna().to_numpy()
    assert len(losses) == 35
    assert losses[-3:].mean() < 0.05 * losses[0], (losses[0], losses[-3:])


def test_ensemble_bagging_outputs_and_weights_only_loading(tiny_csv, tmp_path, cache_dir):
    extra = [
        "trainer.max_epochs=1",  # the outputs of an ensemble, not its accuracy, are checked
        "ensemble.size=2",
        "ensemble.bootstrap=true",
        "bagging.num_conformers=3",
        "bagging.aggregate=median",
    ]
    value = run_train(tiny_csv, tmp_path, cache_dir, extra)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["optimized_metric"]["name"] == "val/rmse"
    assert metrics["optimized_metric"]["value"] == pytest.approx(value)
    assert set(metrics["test"]) == {"single_conformer", "bagged_conformers", "bagged_ensemble"}
    for block in metrics["test"].values():
        assert {"rmse", "mae", "r2"} <= block.keys()
    assert set(metrics["spread_error_spearman"]["test"]["bagged_ensemble"]) == {
        "conformer_std",
        "ensemble_std",
    }
    for m in range(2):
        assert (tmp_path / "checkpoints" / f"member_{m}" / "best.ckpt").is_file()
        assert (tmp_path / "checkpoints" / f"member_{m}" / "last.ckpt").is_file()
    assert (tmp_path / "parity.png").is_file() and (tmp_path / "config.yaml").is_file()
    assert (tmp_path / "losses.png").stat().st_size > 1000  # both members' curves
    frame = pd.read_csv(tmp_path / "test_predictions.csv")
    assert {"logp_true", "logp", "logp_conformer_std", "logp_ensemble_std"} <= set(frame)

    # the weights-only model/ reproduces the test predictions through molprop.bagging
    from molprop.data.datamodule import MolDataModule

    cfg = compose_train(csv_overrides(tiny_csv, tmp_path, cache_dir) + extra)
    members = load_model(tmp_path)
    assert len(members) == 2 and members[0].spec.ensemble_aggregate == "median"
    dm = MolDataModule(
        data=dict(cfg.data),
        conformers=dict(cfg.conformers),
        graph=dict(cfg.graph),
        bagging=dict(cfg.bagging),
        cache_dir=str(cache_dir),
        data_dir=str(cache_dir),
        progress=False,
    )
    dm.setup()
    batches = list(dm.test_dataloader())
    mol_idx = torch.cat([b.mol_idx for b in batches])
    bagged = [
        aggregate_conformers(torch.cat([m.predict(b) for b in batches]), mol_idx, "median")
        for m in members
    ]
    ensemble = aggregate_ensemble(bagged, "median")
    expected = frame.set_index("row").loc[ensemble.mol_idx.numpy(), "logp"].to_numpy()
    assert ensemble.prediction[:, 0].numpy() == pytest.approx(expected, abs=1e-5)


def test_resume_from_last_checkpoint(tiny_csv, tmp_path, cache_dir):
    run_train(tiny_csv, tmp_path, cache_dir, ["trainer.max_epochs=1"])
    last = tmp_path / "checkpoints" / "last.ckpt"
    first = torch.load(last, map_location="cpu", weights_only=False)
    assert first["epoch"] == 0
    other = tmp_path / "elsewhere"  # resuming continues in the checkpoint's run directory
    run_train(tiny_csv, other, cache_dir, ["trainer.max_epochs=2", f"ckpt_path={last}"])
    resumed = torch.load(last, map_location="cpu", weights_only=False)
    assert resumed["global_step"] == 2 * first["global_step"]
    assert not (other / "metrics.json").exists()
    assert (tmp_path / "metrics.json").is_file()


def test_ema_weights_are_validated_saved_and_resumed(tiny_csv, tmp_path, cache_dir):
    ema = ["callbacks.ema.decay=0.5"]
    run_train(tiny_csv, tmp_path, cache_dir, [*ema, "trainer.max_epochs=2"])
    ckpts = tmp_path / "checkpoints"
    best = torch.load(ckpts / "best.ckpt", map_location="cpu", weights_only=True)
    averaged, raw = best["state_dict"], best["current_model_state"]  # raw: for a resume
    assert averaged.keys() == raw.keys()
    assert any(not torch.equal(averaged[k], raw[k]) for k in averaged)
    saved = load_model(tmp_path)[0].state_dict()  # model/ holds the averaged weights
    assert all(torch.equal(v, averaged[f"model.{k}"]) for k, v in saved.items())

    first = torch.load(ckpts / "last.ckpt", map_location="cpu", weights_only=True)
    run_train(
        tiny_csv, tmp_path / "b", cache_dir,
        [*ema, "trainer.max_epochs=3", f"ckpt_path={ckpts / 'last.ckpt'}"],
    )  # fmt: skip
    resumed = torch.load(ckpts / "last.ckpt", map_location="cpu", weights_only=True)
    steps = first["averaging_state"]["n_averaged"].item()
    assert steps == first["global_step"] > 0  # one update per optimizer step
    assert resumed["averaging_state"]["n_averaged"].item() == resumed["global_step"] == 1.5 * steps


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5])
def test_ema_decay_outside_the_unit_interval_is_refused(decay):
    from molprop.exceptions import InputError
    from molprop.lit.ema import ema_callback

    assert ema_callback(None) is None
    with pytest.raises(InputError, match=r"callbacks.ema.decay=.*expected 0 < decay < 1"):
        ema_callback(decay)
