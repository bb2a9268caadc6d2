"""Shared fixtures of the application tests: real configs composed with tiny overrides."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

import molprop  # noqa: F401  (registers the OmegaConf resolvers used by conf/)

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

#: Small, learnable molecules (target: Crippen logP); two rows of each are used as val/test.
SMILES = [
    "CCO",
    "CCCO",
    "CCCCO",
    "CCCCCO",
    "CC(C)O",
    "CC(C)CO",
    "OCCO",
    "CCOC",
    "CCOCC",
    "CCCOC",
    "CC(=O)O",
    "CCC(=O)O",
    "CCCC(=O)O",
    "CC(=O)OC",
    "CC(=O)OCC",
    "CCN",
    "CCCN",
    "CCCCN",
    "CNC",
    "CCNCC",
    "c1ccccc1",
    "Cc1ccccc1",
    "CCc1ccccc1",
    "Oc1ccccc1",
    "Nc1ccccc1",
    "Clc1ccccc1",
    "c1ccncc1",
    "Cc1ccncc1",
    "C1CCCCC1",
    "C1CCNCC1",
    "C1CCOC1",
    "CC(C)(C)O",
]

#: Overrides that make any run tiny: small model, 2 conformers, 2 epochs, quiet trainer.
TINY = [
    "model=tiny",
    "bagging.num_conformers=2",
    "conformers.num_workers=1",
    "conformers.prune_rms=0.0",
    "batch_size=8",
    "trainer=cpu",
    "trainer.max_epochs=2",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.log_every_n_steps=1",
]

#: Bootstrap replicates of the test-score intervals in metrics.json: still computed, 20x
#: cheaper than the default 1000 (the intervals' statistics are tested on their own).
FEW_BOOTSTRAP = "uncertainty.bootstrap=50"


def pytest_addoption(parser):
    """``--device cuda`` runs the model checks (tests/model_mixin.py) on a GPU."""
    parser.addoption(
        "--device",
        default="cpu",
        help="torch device for the backbone symmetry checks (default: cpu)",
    )


@pytest.fixture(scope="session")
def device(request):
    """The torch device of ``--device``; skips the test when that device is unavailable."""
    import torch

    dev = torch.device(request.config.getoption("--device"))
    if dev.type == "cuda" and not torch.cuda.is_available():
        pytest.skip("--device cuda given but torch sees no CUDA device")
    return dev


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """One intra-op thread, as the subprocesses get (``OMP_NUM_THREADS=1`` in :func:`run_cli`).

    The tiny models train several times faster single-threaded on a shared 2-core machine
    (thread hand-offs cost more than their small ops).
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_csv(tmp_path_factory) -> Path:
    """A 32-molecule regression CSV (smiles, logp)."""
    from rdkit import Chem
    from rdkit.Chem import Crippen

    path = tmp_path_factory.mktemp("data") / "tiny.csv"
    logp = [Crippen.MolLogP(Chem.MolFromSmiles(s)) for s in SMILES]
    pd.DataFrame({"smiles": SMILES, "logp": logp}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """Conformer cache shared by all tests of the session."""
    return tmp_path_factory.mktemp("cache")


def compose_train(overrides: list[str], return_hydra_config: bool = False):
    """Compose conf/train.yaml with ``overrides`` (fresh global Hydra state)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", overrides=overrides, return_hydra_config=return_hydra_config)


def csv_overrides(csv: Path, run_dir: Path, cache: Path) -> list[str]:
    """Overrides for a tiny run on ``csv`` writing into ``run_dir``."""
    return TINY + [
        "data=csv",
        f"data.path={csv}",
        "data.target_columns=[logp]",
        "data.split_sizes=[0.75,0.125,0.125]",
        f"paths.output_dir={run_dir}",
        f"paths.cache_dir={cache}",
        f"paths.data_dir={cache}",
        FEW_BOOTSTRAP,
    ]


def hydra_main(main, args: list[str]) -> int:
    """Run a Hydra command (``molprop.cli.train.main``, ...) in this process.

    Saves a Python start-up (seconds) where a test is not about the shell entry point;
    Hydra's global state and the log handlers its job logging adds are undone afterwards.
    """
    import logging

    handlers, level = logging.root.handlers[:], logging.root.level
    GlobalHydra.instance().clear()
    try:
        return main([str(a) for a in args])
    finally:
        GlobalHydra.instance().clear()
        logging.root.handlers[:] = handlers
        logging.root.setLevel(level)


def run_cli(args: list[str], cwd: Path = ROOT, timeout: int = 240):
    """Run ``python <args>`` in a subprocess with a quiet, single-threaded environment."""
    import subprocess

    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
