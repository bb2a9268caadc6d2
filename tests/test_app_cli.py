"""Training as users run it: 2-process DDP (Lightning re-launches ``python -m molprop train``),
``python train.py`` (from another directory) with submitit local, and the ``molprop train``
multirun and Optuna sweeper with sweep_summary.csv (in-process: the sweepers are under test,
not the shell entry point)."""

import importlib.util
import json

import pandas as pd
import pytest
from conftest import FEW_BOOTSTRAP, ROOT, TINY, hydra_main, run_cli


def tiny_cli(tiny_csv, cache_dir):
    return TINY + [
        "data=csv",
        f"data.path={tiny_csv}",
        "data.target_columns=[logp]",
        f"paths.cache_dir={cache_dir}",
        f"paths.data_dir={cache_dir}",
        "trainer.max_epochs=1",
        "logger=csv",
        FEW_BOOTSTRAP,
    ]


def check(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_ddp_two_processes_on_cpu(tiny_csv, cache_dir, tmp_path):
    run_dir = tmp_path / "ddp"
    result = run_cli(
        [
            "-m",
            "molprop",
            "train",
            *tiny_cli(tiny_csv, cache_dir),
            "trainer=ddp",
            "trainer.accelerator=cpu",
            "trainer.devices=2",
            f"hydra.run.dir={run_dir}",
        ]
    )
    check(result)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["val"]["bagged_ensemble"]["rmse"] is not None
    log = pd.read_csv(next((run_dir / "logs").glob("*/metrics.csv")))
    assert log["val/rmse"].notna().any()
    assert "Starting with 2 processes" in (run_dir / "train.log").read_text()
    assert (run_dir / "train_ddp_process_1.log").is_file()  # rank 1 ran in its own process


def test_multirun_writes_sweep_summary(tiny_csv, cache_dir, tmp_path):
    """``molprop train -m ... seed=0,1`` on the basic launcher (in-process: the multirun and
    its summary are under test; the shell entry points run in the DDP and submitit tests)."""
    from molprop.cli.train import main

    sweep = tmp_path / "sweep"
    status = hydra_main(
        main, ["-m", *tiny_cli(tiny_csv, cache_dir), "seed=0,1", f"hydra.sweep.dir={sweep}"]
    )
    assert status == 0
    summary = pd.read_csv(sweep / "sweep_summary.csv")
    assert len(summary) == 2 and (summary["status"] == "ok").all()
    assert summary["overrides"].str.contains("seed=1").sum() == 1
    assert (summary["metric"] == "val/rmse").all()
    assert summary[["val", "test"]].notna().all().all()
    for run_dir in summary["run_dir"]:
        assert (pd.io.common.Path(run_dir) / "model" / "model.json").is_file()


@pytest.mark.skipif(
    importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is None,
    reason="hydra-submitit-launcher not installed",
)
def test_submitit_local_launcher(tiny_csv, cache_dir, tmp_path):
    sweep = tmp_path / "submitit"
    result = run_cli(
        [
            str(ROOT / "train.py"),
            "-m",
            "hydra/launcher=local",
            *tiny_cli(tiny_csv, cache_dir),
            "seed=3",
            f"hydra.sweep.dir={sweep}",
        ],
        cwd=tmp_path,  # any working directory: the configs are the project's conf/
        timeout=300,
    )
    check(result)
    summary = pd.read_csv(sweep / "sweep_summary.csv")
    assert len(summary) == 1 and summary.loc[0, "status"] == "ok"
    assert (sweep / "0" / "metrics.json").is_file()
    assert len(list((sweep / ".submitit").glob("*/*_result.pkl"))) == 1  # submitit ran it


def test_sweep_summary_lists_failed_jobs(tmp_path):
    from molprop.train.sweep import write_sweep_summary

    for job, metrics in (
        (
            "0",
            {
                "optimized_metric": {"name": "val/rmse", "value": 1.5},
                "test": {"bagged_ensemble": {"rmse": 2.0}},
            },
        ),
        ("1", None),
    ):
        (tmp_path / job / ".hydra").mkdir(parents=True)
        (tmp_path / job / ".hydra" / "overrides.yaml").write_text(f"- seed={job}\n")
        if metrics:
            (tmp_path / job / "metrics.json").write_text(json.dumps(metrics))
    summary = pd.read_csv(write_sweep_summary(tmp_path))
    assert summary["status"].tolist() == ["ok", "failed"]
    assert summary.loc[0, "val"] == 1.5 and summary.loc[0, "test"] == 2.0
    assert summary["overrides"].tolist() == ["seed=0", "seed=1"]


@pytest.mark.skipif(
    importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is None,
    reason="hydra-optuna-sweeper not installed",
)
def test_optuna_search_runs_trials_and_summarises(tiny_csv, cache_dir, tmp_path):
    from molprop.cli.train import main

    sweep = tmp_path / "optuna"
    status = hydra_main(
        main,
        [
            "hparams_search=optuna",
            *tiny_cli(tiny_csv, cache_dir),
            # fixed on the command line, so the trials stay tiny (Optuna searches lr, decay)
            "model.backbone.channels=8",
            "model.backbone.num_layers=1",
            "hydra.sweeper.n_trials=2",
            "hydra.sweeper.sampler.n_startup_trials=1",
            f"hydra.sweep.dir={sweep}",
        ],
    )
    assert status == 0
    summary = pd.read_csv(sweep / "sweep_summary.csv")
    assert len(summary) == 2 and (summary["status"] == "ok").all()
    assert summary["overrides"].str.contains("optimizer.lr=").all()
    assert summary["overrides"].str.extract(r"optimizer\.lr=(\S+)")[0].nunique() == 2
    assert (sweep / "optimization_results.yaml").is_file()
