"""Command ``molprop pretrain [overrides]``: ``molprop train experiment=pretrain`` plus its table.

The overrides are Hydra's, as for ``molprop train``. Before training, the config is composed
once to find ``pretrain.table``; a missing table is built from ``pretrain.corpus``
(:func:`molprop.train.pretrain.ensure_table`). Resume with
``molprop pretrain ckpt_path=<run>/checkpoints/last.ckpt``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from molprop.cli import train as train_cli
from molprop.cli.errors import run_command, strip_verbose
from molprop.exceptions import InputError

PROG = "molprop pretrain"
#: The experiment preset put before the user's overrides.
EXPERIMENT = "experiment=pretrain"


def _prepare(args: list[str]) -> int:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from molprop.train.pretrain import ensure_table

    keep = [a for a in args if not a.startswith("hydra.") and a not in ("-m", "--multirun")]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=train_cli.config_dir(), version_base="1.3"):
            cfg = compose("train", overrides=[EXPERIMENT, *keep])
        ensure_table(cfg)
    except (HydraException, OmegaConfBaseException) as exc:
        raise InputError(f"overrides {keep}: {exc}") from None
    finally:
        GlobalHydra.instance().clear()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``molprop pretrain``; returns the exit status (0 ok, 2 user error)."""
    args = strip_verbose(sys.argv[1:] if argv is None else argv)
    if not any(a in ("-h", "--help", "--cfg", "-c") for a in args):
        status = run_command(PROG, lambda: _prepare(args))
        if status != 0:
            return status
    return train_cli.main([EXPERIMENT, *args])
