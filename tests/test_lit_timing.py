"""``EpochTimer``: the fit's and the epochs' seconds in ``metrics.json`` (``timing``)."""

from __future__ import annotations

import pytest

from molprop.lit.timing import EpochTimer, fit_timing


def _clock(timer: EpochTimer, monkeypatch, ticks: list[float]) -> None:
    """Make ``timer`` read ``ticks`` in turn as both wall and CPU seconds."""
    it = iter(ticks)
    monkeypatch.setattr(timer, "_now", lambda: (t := next(it), t / 2))


def test_summary_median_epoch_and_warmup(monkeypatch):
    timer = EpochTimer()
    # fit starts at 0; epochs of 10 (a slow first, e.g. compiling), 2, 3 and 2 s; fit ends at 20
    _clock(timer, monkeypatch, [0, 1, 11, 11, 13, 13, 16, 16, 18, 20])
    timer.on_fit_start(None, None)
    for _ in range(4):
        timer.on_train_epoch_start(None, None)
        timer.on_train_epoch_end(None, None)
    timer.on_fit_end(None, None)
    summary = timer.summary()
    assert summary["epochs"] == 4
    assert summary["fit_wall_s"] == 20 and summary["fit_cpu_s"] == 10
    assert summary["median_epoch_wall_s"] == 2.5 and summary["median_epoch_cpu_s"] == 1.25
    assert summary["warmup_s"] == pytest.approx(20 - 4 * 2.5)


def test_no_epoch_and_no_timer():
    assert EpochTimer().summary() == {
        "epochs": 0,
        "fit_wall_s": 0.0,
        "fit_cpu_s": 0.0,
        "median_epoch_wall_s": None,
        "median_epoch_cpu_s": None,
        "warmup_s": None,
    }

    class Trainer:
        callbacks = [object()]

    assert fit_timing(Trainer()) is None
    Trainer.callbacks.append(EpochTimer())
    assert fit_timing(Trainer())["epochs"] == 0
