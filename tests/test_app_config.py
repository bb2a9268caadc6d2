"""Every config group and option composes, resolves and names importable targets."""

from pathlib import Path

import pytest
from conftest import CONF, compose_train
from hydra.utils import get_method
from omegaconf import OmegaConf, open_dict

from molprop.train.run import build_settings

GROUPS = sorted(
    p.name for p in CONF.iterdir() if p.is_dir() and p.name not in ("hydra", "__pycache__")
)
OPTIONS = [(g, f.stem) for g in GROUPS for f in sorted((CONF / g).glob("*.yaml"))]
LAUNCHERS = [f.stem for f in sorted((CONF / "hydra" / "launcher").glob("*.yaml"))]


def _targets(node):
    if isinstance(node, dict):
        if "_target_" in node:
            yield node["_target_"]
        for value in node.values():
            yield from _targets(value)
    elif isinstance(node, list):
        for value in node:
            yield from _targets(value)


def _check_job_config(cfg, tmp_path: Path):
    cfg.paths.output_dir = str(tmp_path)
    job = OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
    for target in _targets(job):
        get_method(target)  # importable class or function
    for key in ("seed", "task_name", "data", "model", "bagging", "ensemble", "trainer"):
        assert key in job
    build_settings(cfg)  # every group's keys and values are valid typed configs
    return job


@pytest.mark.parametrize(("group", "option"), OPTIONS)
def test_every_option_composes(group, option, tmp_path):
    overrides = [f"{group}={option}"]
    cfg = compose_train(overrides, return_hydra_config=group == "hparams_search")
    if group == "hparams_search":
        assert "optuna" in cfg.hydra.sweeper._target_
        assert cfg.hydra.sweeper.params
        with open_dict(cfg):
            del cfg["hydra"]
    job = _check_job_config(cfg, tmp_path)
    if group == "experiment":
        assert job["task_name"] == option
    if group == "debug":
        assert job["task_name"] == "debug"


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_launchers_compose(launcher):
    cfg = compose_train([f"hydra/launcher={launcher}"], return_hydra_config=True)
    assert "submitit" in cfg.hydra.launcher._target_
    get_method(cfg.hydra.launcher._target_)


def test_defaults_are_the_documented_ones(tmp_path):
    cfg = compose_train([], return_hydra_config=True)
    assert cfg.data.name == "chembl_freewilson"
    assert cfg.trainer.gradient_clip_val > 0
    assert cfg.optimizer._partial_ and cfg.scheduler._partial_
    assert cfg.hydra.callbacks.sweep_summary._target_ == "molprop.train.sweep.SweepSummaryCallback"
    assert "outputs" in cfg.hydra.run.dir and "multirun" in cfg.hydra.sweep.dir
    with open_dict(cfg):
        del cfg["hydra"]
    job = _check_job_config(cfg, tmp_path)
    assert job["model"]["backbone"]["cutoff"] == job["graph"]["cutoff"]
    assert job["conformers"]["pool_size"] == job["bagging"]["num_conformers"]
    assert Path(job["paths"]["shared_data"]).name == "data"


def test_gpu_trainer_uses_bf16():
    assert compose_train(["trainer=gpu"]).trainer.precision == "bf16-mixed"
    assert compose_train(["trainer=ddp"]).trainer.strategy.startswith("ddp")
