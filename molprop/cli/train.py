"""Command ``molprop train [overrides]``: the Hydra entry point (``python train.py`` runs it too).

Everything after ``train`` is Hydra's command line: ``group=option``, ``key=value``, ``-m`` for
multiruns, ``hydra.*`` overrides, ``--help``/``--cfg job``. The configs are the project's
``conf/`` (found by :func:`molprop.paths.project_root`, so any working directory works).

Resuming (``ckpt_path=<run>/checkpoints/last.ckpt``) continues inside ``<run>``: Hydra is told
to use that directory and not to write a new ``.hydra/`` there, so no stray run folder appears
and nothing of the run is overwritten; :func:`molprop.train.run.train` restores the run's
``config.yaml``.

User errors print one line and exit with status 2 (:mod:`molprop.cli.errors`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from molprop.cli.errors import report, run_command, strip_verbose
from molprop.paths import project_root

PROG = "molprop train"
log = logging.getLogger(__name__)

_state: dict[str, object] = {"argv": None, "failed": 0}


def config_dir() -> str:
    """Absolute path of the project's ``conf/`` folder (Hydra's primary config directory)."""
    return str(project_root() / "conf")


def _override_value(args: Sequence[str], key: str) -> str | None:
    """Value of the last ``key=...`` (also ``+key=``/``++key=``) in a Hydra command line."""
    value = None
    for arg in args:
        name, sep, rest = arg.lstrip("+").partition("=")
        if sep and name == key:
            value = rest.strip("'\"")
    return value


def check_run_dirs(args: Sequence[str]) -> None:
    """Refuse a ``hydra.run.dir``/``hydra.sweep.dir`` that lies under a regular file.

    Hydra creates these folders before any molprop code runs, so the failure would otherwise
    be Hydra's traceback and exit status 1.

    Raises:
        InputError: Naming the setting, its value and the file in the way.
    """
    from pathlib import Path

    from molprop.exceptions import InputError

    for key in ("hydra.run.dir", "hydra.sweep.dir"):
        value = _override_value(args, key)
        if not value or "${" in value:
            continue
        path = Path(value).expanduser()
        for parent in (path, *path.parents):
            if parent.exists():
                if not parent.is_dir():
                    raise InputError(
                        f"{key}={value!r}: '{parent}' is a file, not a folder; expected a "
                        "folder path for the run directory"
                    )
                break


def resume_args(args: Sequence[str]) -> list[str]:
    """Add the overrides that make a resume continue inside the checkpoint's run directory.

    Args:
        args: Hydra command line (without the program name).

    Returns:
        ``args``, plus ``hydra.run.dir=<run>`` and ``hydra.output_subdir=null`` when
        ``ckpt_path`` points into a run's ``checkpoints/`` (single runs only; a multirun or an
        explicit ``hydra.run.dir`` is left alone).

    Raises:
        InputError: When ``ckpt_path`` names no file.
    """
    ckpt = _override_value(args, "ckpt_path")
    multirun = any(a in ("-m", "--multirun") for a in args)
    if not ckpt or ckpt == "null" or multirun or _override_value(args, "hydra.run.dir"):
        return list(args)
    from molprop.run_dir import resume_target

    root, _, _ = resume_target(ckpt)
    if root is None:
        return list(args)
    quoted = str(root).replace("\\", "\\\\").replace('"', '\\"')
    return [*args, f'hydra.run.dir="{quoted}"', "hydra.output_subdir=null"]


def _task(cfg) -> float:
    """Hydra task function: train one run; user errors become one line (see module doc)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from molprop.cli.errors import USER_ERRORS
    from molprop.train.run import train

    if _state["argv"] is not None:  # Lightning's DDP launcher re-runs sys.argv
        sys.argv[:] = list(_state["argv"])
    hydra_cfg = HydraConfig.get()
    try:
        return train(cfg, overrides=list(hydra_cfg.overrides.task))
    except USER_ERRORS as err:
        _state["failed"] = int(_state["failed"]) + 1
        report(PROG, err)
        if hydra_cfg.mode == RunMode.MULTIRUN:
            # the sweep goes on: no metrics.json, so sweep_summary.csv lists the job as failed
            log.error("job %s failed: %s", hydra_cfg.job.num, err)
        return float("nan")


def _run_hydra(args: list[str]) -> int:
    import hydra

    check_run_dirs(args)
    args = resume_args(args)
    original = list(sys.argv)
    _state["argv"], _state["failed"] = original, 0
    sys.argv = [original[0] if original else "molprop", *args]
    try:
        hydra.main(config_path=config_dir(), config_name="train", version_base="1.3")(_task)()
    finally:
        sys.argv = original
        _state["argv"] = None
    return 2 if _state["failed"] else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``molprop train``; returns the exit status (0 ok, 2 user error).

    Args:
        argv: Hydra command line without the program name (default ``sys.argv[1:]``).
    """
    args = strip_verbose(sys.argv[1:] if argv is None else argv)
    return run_command(PROG, lambda: _run_hydra(args))


if __name__ == "__main__":
    sys.exit(main())
