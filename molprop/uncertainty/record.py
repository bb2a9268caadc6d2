"""The run's uncertainty record (``model/model.json``) and the output columns it makes possible.

A :class:`CalibrationSet` holds one calibration per task plus how the uncalibrated std was
built (the variance parts summed, see :mod:`molprop.uncertainty.estimators`). Its
:meth:`~CalibrationSet.to_dict` is what ``model/`` stores; a run without one (trained
before calibration existed) still predicts, and :func:`missing_columns_note` says which
columns it cannot give.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from molprop.exceptions import InputError
from molprop.uncertainty.calibration import (
    CALIBRATION_VERSION,
    DEFAULT_COVERAGE,
    DEFAULT_FLOOR_FRACTION,
    Calibration,
    fit_calibration,
)
from molprop.uncertainty.estimators import COMPONENTS
from molprop.uncertainty.probability import ProbabilityCalibration, fit_probability_calibration

STD_SUFFIX = "_std"
LOWER_SUFFIX = "_lower"
UPPER_SUFFIX = "_upper"
CALIBRATED_SUFFIX = "_calibrated"
MVE_STD_SUFFIX = "_mve_std"
DISTANCE_SUFFIX = "_train_distance"
REGRESSION_METHOD = "z-scaling + normalised split-conformal"
_FIELDS = {"version", "task", "method", "components", "tasks"}


def uncertainty_columns(
    task_names: Sequence[str], task: str, variance_head: bool = False, distance: bool = False
) -> list[str]:
    """Names of the calibrated columns, task by task.

    Args:
        task_names: The run's task names.
        task: ``"regression"`` (``_std``, ``_lower``, ``_upper``; before them ``_mve_std``
            for a variance head and ``_train_distance`` when the calibration uses the
            training-set distance) or ``"classification"`` (``_calibrated``, ``_std``).
        variance_head: Whether the run has a variance head.
        distance: Whether the calibration uses the training-set distance.
    """
    if task == "regression":
        suffixes = (
            ((MVE_STD_SUFFIX,) if variance_head else ())
            + ((DISTANCE_SUFFIX,) if distance else ())
            + (
                STD_SUFFIX,
                LOWER_SUFFIX,
                UPPER_SUFFIX,
            )
        )
    else:
        suffixes = (CALIBRATED_SUFFIX, STD_SUFFIX)
    return [name + suffix for name in task_names for suffix in suffixes]


@dataclass(frozen=True)
class CalibrationSet:
    """Calibrations of all tasks of a run.

    Attributes:
        task: ``"regression"`` or ``"classification"``.
        components: Variance parts whose sum's square root is the uncalibrated std
            (regression); empty for classification (its std is ``sqrt(p (1 - p))``).
        tasks: One :class:`Calibration` (regression) or :class:`ProbabilityCalibration`
            per task, in output order.
        version: Format version of :meth:`to_dict`.
    """

    task: str
    components: tuple[str, ...]
    tasks: tuple
    version: int = CALIBRATION_VERSION

    def __post_init__(self) -> None:
        kind = {"regression": Calibration, "classification": ProbabilityCalibration}.get(self.task)
        if kind is None:
            raise InputError(f"calibration: task={self.task!r}; expected regression/classification")
        if not self.tasks or not all(isinstance(t, kind) for t in self.tasks):
            raise InputError(f"calibration: expected one {kind.__name__} per {self.task} task")
        if len({getattr(t, "method", "") for t in self.tasks}) > 1:
            raise InputError("calibration: expected one probability method for all tasks")
        bad = [c for c in self.components if c not in COMPONENTS]
        if bad or (self.task == "regression") != bool(self.components):
            raise InputError(
                f"calibration: components={list(self.components)}; expected names from "
                f"{COMPONENTS} for regression and none for classification"
            )

    @property
    def task_names(self) -> list[str]:
        """Task names, in output order."""
        return [t.task for t in self.tasks]

    @property
    def method(self) -> str:
        """How the tasks were calibrated (recorded in ``model.json``)."""
        return REGRESSION_METHOD if self.task == "regression" else self.tasks[0].method

    def to_dict(self) -> dict:
        """JSON-safe dict for ``model/model.json``."""
        return {
            "version": self.version,
            "task": self.task,
            "method": self.method,
            "components": list(self.components),
            "tasks": [t.to_dict() for t in self.tasks],
        }

    @classmethod
    def from_dict(cls, raw: dict) -> CalibrationSet:
        """Rebuild from :meth:`to_dict`; ``InputError`` names what is invalid."""
        if not isinstance(raw, dict) or set(raw) != _FIELDS:
            keys = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
            raise InputError(f"uncertainty record: received {keys}; expected {sorted(_FIELDS)}")
        if raw["version"] != CALIBRATION_VERSION:
            raise InputError(
                f"uncertainty record: version={raw['version']!r}; this molprop reads "
                f"version {CALIBRATION_VERSION}"
            )
        kinds = {"regression": Calibration, "classification": ProbabilityCalibration}
        if raw["task"] not in kinds:
            raise InputError(
                f"uncertainty record: task={raw['task']!r}; expected regression/classification"
            )
        kind = kinds[raw["task"]]
        tasks = raw["tasks"] if isinstance(raw["tasks"], list) else []
        out = cls(raw["task"], tuple(raw["components"]), tuple(kind.from_dict(t) for t in tasks))
        if out.method != raw["method"]:
            raise InputError(
                f"uncertainty record: method={raw['method']!r}; expected {out.method!r}"
            )
        return out

    def _check_width(self, name: str, array: np.ndarray) -> np.ndarray:
        array = np.asarray(array, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != len(self.tasks):
            raise InputError(
                f"{name}: received shape {array.shape}; expected [n, {len(self.tasks)}] "
                f"(tasks {self.task_names})"
            )
        return array

    @property
    def uses_distance(self) -> bool:
        """Whether the raw std includes the training-set distance (a regression part)."""
        return "distance" in self.components

    def apply(
        self,
        mean: np.ndarray,
        std: np.ndarray,
        coverage: float | None = None,
        distance: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Calibrated std and interval bounds of every task. Each ``[n, T]``.

        Args:
            mean: Point predictions. ``[n, T]``.
            std: Uncalibrated std (square root of the variance parts' sum). ``[n, T]``.
            coverage: Interval coverage; each task's calibrated one when ``None``.
            distance: Training-set distances ``[n, T]`` (needed when :attr:`uses_distance`).
        """
        if self.task != "regression":
            raise InputError("calibration: apply() is for regression; use apply_proba()")
        mean, std = self._check_width("mean", mean), self._check_width("std", std)
        if distance is not None:
            distance = self._check_width("distance", distance)
        parts = [
            cal.apply(mean[:, t], std[:, t], coverage, None if distance is None else distance[:, t])
            for t, cal in enumerate(self.tasks)
        ]
        return tuple(np.stack(p, axis=1) for p in zip(*parts, strict=True))

    def apply_proba(self, prob: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of every task. ``[n, T]`` in, ``[n, T]`` out."""
        if self.task != "classification":
            raise InputError("calibration: apply_proba() is for classification; use apply()")
        prob = self._check_width("prob", prob)
        return np.stack([cal.apply(prob[:, t]) for t, cal in enumerate(self.tasks)], axis=1)


def calibrate_regression(
    mean: np.ndarray,
    std: np.ndarray,
    target: np.ndarray,
    task_names: Sequence[str],
    components: Sequence[str],
    coverage: float = DEFAULT_COVERAGE,
    floor_fraction: float = DEFAULT_FLOOR_FRACTION,
    distance: np.ndarray | None = None,
) -> CalibrationSet:
    """Fit :func:`~molprop.uncertainty.calibration.fit_calibration` task by task.

    Args:
        mean: Validation point predictions. ``[n, T]``.
        std: Uncalibrated std. ``[n, T]``.
        target: Validation targets, NaN where missing. ``[n, T]``.
        task_names: The ``T`` task names.
        components: The parts ``std`` and ``distance`` come from (recorded).
        coverage: Default interval coverage.
        floor_fraction: Std floor as a fraction of the median positive std.
        distance: Training-set distances ``[n, T]`` when ``components`` has ``distance``.
    """
    mean, std, target = (np.asarray(a, dtype=np.float64) for a in (mean, std, target))
    if ("distance" in components) != (distance is not None):
        raise InputError(
            f"calibration: components={list(components)} but distance is "
            f"{'given' if distance is not None else 'missing'}; expected both or neither"
        )
    tasks = tuple(
        fit_calibration(
            mean[:, t], std[:, t], target[:, t], name, coverage, floor_fraction,
            None if distance is None else np.asarray(distance, dtype=np.float64)[:, t],
        )
        for t, name in enumerate(task_names)
    )  # fmt: skip
    return CalibrationSet("regression", tuple(components), tasks)


def calibrate_classification(
    prob: np.ndarray, target: np.ndarray, task_names: Sequence[str], method: str = "platt"
) -> CalibrationSet:
    """Fit Platt or isotonic calibration task by task (``prob``, ``target``: ``[n, T]``)."""
    prob, target = np.asarray(prob, dtype=np.float64), np.asarray(target, dtype=np.float64)
    tasks = tuple(
        fit_probability_calibration(prob[:, t], target[:, t], name, method)
        for t, name in enumerate(task_names)
    )
    return CalibrationSet("classification", (), tasks)


def load_record(raw: dict | None) -> CalibrationSet | None:
    """Read the :class:`CalibrationSet` stored in ``model.json`` (``None`` for an older run)."""
    return None if raw is None else CalibrationSet.from_dict(raw)


def missing_columns_note(
    calibration: CalibrationSet | None, task_names: Sequence[str], task: str
) -> str | None:
    """Why a run cannot give its calibrated columns, or ``None`` when it can.

    Args:
        calibration: The run's record (``None`` for a run trained without calibration).
        task_names: The run's task names.
        task: ``"regression"`` or ``"classification"``.
    """
    if calibration is not None:
        return None
    columns = ", ".join(uncertainty_columns(task_names, task))
    return (
        "this run's model/model.json has no uncertainty calibration (it was trained before "
        f"calibration was recorded); it cannot give: {columns}. Retrain to get them; the raw "
        "conformer/ensemble spreads are still given"
    )
