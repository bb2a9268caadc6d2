"""Sweep summaries: ``sweep_summary.csv`` with one row per run of a Hydra multirun.

:class:`SweepSummaryCallback` is registered in ``conf/hydra/default.yaml`` and runs
after any multirun (basic sweeper, Optuna, submitit launchers). It can also be
called by hand: ``python -m molprop.train.sweep <sweep_dir>``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

SUMMARY_NAME = "sweep_summary.csv"
COLUMNS = ["job", "overrides", "metric", "val", "test", "run_dir", "status"]


def _job_key(path: Path) -> tuple[int, str]:
    return (int(path.name), "") if path.name.isdigit() else (sys.maxsize, path.name)


def _run_row(job_dir: Path) -> dict[str, Any]:
    overrides_file = job_dir / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(overrides_file.read_text()) or []
    row: dict[str, Any] = {
        "job": job_dir.name,
        "overrides": " ".join(str(o) for o in overrides),
        "metric": None,
        "val": None,
        "test": None,
        "run_dir": str(job_dir),
        "status": "failed",
    }
    metrics_file = job_dir / "metrics.json"
    if metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
        optimized = metrics.get("optimized_metric", {})
        name = optimized.get("name")
        row.update(metric=name, val=optimized.get("value"), status="ok")
        short = name.split("/", 1)[-1] if name else None
        test = metrics.get("test", {}).get("bagged_ensemble", {})
        row["test"] = test.get(short) if short else None
    return row


def write_sweep_summary(sweep_dir: str | Path) -> Path:
    """Collect every job directory of a sweep into ``<sweep_dir>/sweep_summary.csv``.

    A job directory is any sub-folder with ``.hydra/overrides.yaml``; jobs without
    ``metrics.json`` are listed with ``status=failed``.

    Args:
        sweep_dir: The multirun sweep directory (``hydra.sweep.dir``).

    Returns:
        Path of the written CSV.
    """
    sweep_dir = Path(sweep_dir)
    jobs = (
        sorted(
            (p for p in sweep_dir.iterdir() if (p / ".hydra" / "overrides.yaml").is_file()),
            key=_job_key,
        )
        if sweep_dir.is_dir()
        else []
    )
    frame = pd.DataFrame([_run_row(j) for j in jobs], columns=COLUMNS)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    path = sweep_dir / SUMMARY_NAME
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)  # atomic: parallel jobs (submitit) may finish together
    return path


class SweepSummaryCallback(Callback):
    """Hydra callback writing ``sweep_summary.csv`` after each job and when a multirun ends.

    Updating after every job keeps the summary useful when a later run fails or the sweep
    is interrupted.
    """

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        """Refresh the summary after each job of a multirun (no-op for single runs)."""
        try:
            if config.hydra.mode == RunMode.MULTIRUN:
                write_sweep_summary(str(config.hydra.sweep.dir))
        except Exception as err:  # never let bookkeeping fail a training job
            print(f"[molprop] could not update the sweep summary: {err}")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Summarise the sweep directory of the finished multirun."""
        path = write_sweep_summary(str(config.hydra.sweep.dir))
        print(f"[molprop] sweep summary: {path}")


if __name__ == "__main__":  # pragma: no cover
    print(write_sweep_summary(sys.argv[1]))
