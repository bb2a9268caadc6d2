"""Wall and CPU time of training, per epoch, for ``metrics.json`` (``timing``).

Every run records how long it trained, so a setting (``model.compile``, K conformers, a
larger model) can be judged on its own runs. With ``model.compile=true`` the first epochs pay
for compiling; :meth:`EpochTimer.summary` gives the time above the median epoch as
``warmup_s``, an estimate of that cost (it also holds any other first-epoch start-up).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from lightning.pytorch.callbacks import Callback


class EpochTimer(Callback):
    """Seconds of the fit and of each training epoch (its validation included).

    Lightning runs an epoch's validation before ``on_train_epoch_end``, so an epoch's time
    holds its training steps and its validation. The fit time also holds the sanity check
    and the loops' start and end.
    """

    def __init__(self) -> None:
        self.epoch_wall: list[float] = []
        self.epoch_cpu: list[float] = []
        self.fit_wall = 0.0
        self.fit_cpu = 0.0
        self._epoch_start: tuple[float, float] | None = None
        self._fit_start: tuple[float, float] | None = None

    @staticmethod
    def _now() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:  # noqa: D102
        self._fit_start = self._now()

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:  # noqa: D102
        if self._fit_start is not None:
            wall, cpu = self._now()
            self.fit_wall += wall - self._fit_start[0]
            self.fit_cpu += cpu - self._fit_start[1]
            self._fit_start = None

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:  # noqa: D102
        self._epoch_start = self._now()

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:  # noqa: D102
        if self._epoch_start is not None:
            wall, cpu = self._now()
            self.epoch_wall.append(wall - self._epoch_start[0])
            self.epoch_cpu.append(cpu - self._epoch_start[1])
            self._epoch_start = None

    def summary(self) -> dict[str, float | int | None]:
        """Summarise the fit: totals and the median epoch (``None`` where no epoch ran).

        Returns:
            ``epochs``, ``fit_wall_s``, ``fit_cpu_s`` (CPU seconds of this process, all its
            threads), ``median_epoch_wall_s``, ``median_epoch_cpu_s`` and ``warmup_s``: the
            fit's wall time above ``epochs`` median epochs (compiling, with ``model.compile``).
        """
        epochs = len(self.epoch_wall)
        median_wall = statistics.median(self.epoch_wall) if epochs else None
        median_cpu = statistics.median(self.epoch_cpu) if epochs else None
        return {
            "epochs": epochs,
            "fit_wall_s": round(self.fit_wall, 3),
            "fit_cpu_s": round(self.fit_cpu, 3),
            "median_epoch_wall_s": None if median_wall is None else round(median_wall, 3),
            "median_epoch_cpu_s": None if median_cpu is None else round(median_cpu, 3),
            "warmup_s": None if median_wall is None else round(
                max(self.fit_wall - epochs * median_wall, 0.0), 3
            ),
        }  # fmt: skip


def fit_timing(trainer: Any) -> dict[str, float | int | None] | None:
    """:meth:`EpochTimer.summary` of a trainer's timer; ``None`` when it has none."""
    for callback in getattr(trainer, "callbacks", None) or []:
        if isinstance(callback, EpochTimer):
            return callback.summary()
    return None
