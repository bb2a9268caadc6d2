"""Calibration fitted on the validation split: z-scaling, normalised split-conformal, Platt, PAV.

Regression (per task, on the validation molecules with a target):

* **z-scaling.** With residuals ``r_i = y_i - mu_i`` and predicted std ``s_i``, a scale
  factor ``c`` gives the Gaussian NLL ``sum_i [log(c s_i) + r_i^2 / (2 c^2 s_i^2)] + const``.
  Its derivative in ``c``, ``sum_i [1/c - r_i^2 / (c^3 s_i^2)]``, vanishes at
  ``c^2 = mean_i (r_i / s_i)^2 = mean(z^2)``, the unique minimum (the NLL grows to infinity at
  ``c -> 0`` and ``c -> inf``). The calibrated std is ``c * s``.
* **normalised split-conformal.** Scores ``e_i = |r_i| / (c s_i)``; the interval at coverage
  ``1 - alpha`` is ``mu +- q (c s)`` with ``q`` the ``k``-th smallest score,
  ``k = ceil((n + 1)(1 - alpha))``. For exchangeable calibration and test molecules it covers
  at least ``1 - alpha`` of test molecules on average, whatever ``s`` is; widths differ per
  molecule through ``s``. Because ``c`` is one constant it cancels in ``q (c s)``, so fitting
  ``c`` and the scores on the same molecules keeps the guarantee.
* **the std floor.** A zero spread (one conformer, a rigid molecule) would give infinite
  ``z`` and a zero-width interval, so ``s`` is raised to ``floor_fraction`` times the median
  positive ``s`` of the calibration set (to 1 when no ``s`` is positive: then ``c s`` is the
  constant RMS residual). The floor is stored and applied at prediction time.

* **the training-set distance** (optional, :mod:`molprop.uncertainty.domain`). With a
  distance ``d_i`` the raw variance becomes ``s_i^2 + w d_i``; ``w >= 0`` is chosen on
  validation by the z-scaled NLL (profile likelihood: ``c`` is closed-form for each ``w``)
  over ``w = 0`` and a log grid around ``median(s^2) / median(d)``. ``w = 0`` is on the grid,
  so adding the distance never raises the validation NLL; the floor and the conformal scores
  are then those of ``sqrt(s^2 + w d)``.

The sorted scores are stored (``n`` floats per task), so intervals can be given at any
coverage later, with the same finite-sample rule, without refitting.

NaN targets (missing values) are masked task by task; classification lives in
:mod:`molprop.uncertainty.probability`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from molprop.exceptions import InputError

#: Version of the stored calibration dicts; :meth:`Calibration.from_dict` reads only this one.
CALIBRATION_VERSION = 1
DEFAULT_COVERAGE = 0.9
DEFAULT_FLOOR_FRACTION = 0.05
#: Fewest molecules with a target a task needs to be calibrated.
MIN_CALIBRATION_SIZE = 2
#: Distance weights tried: ``0`` and ``base * 10**k`` for these ``k`` (:func:`fit_distance_weight`).
DISTANCE_WEIGHT_DECADES = np.linspace(-4.0, 4.0, 81)


def _check_coverage(coverage: float, name: str = "coverage") -> float:
    if not isinstance(coverage, (int, float)) or not 0.0 < float(coverage) < 1.0:
        raise InputError(f"{name}: received {coverage!r}; expected a number in (0, 1), e.g. 0.9")
    return float(coverage)


def valid_rows(task: str, target: np.ndarray, *arrays: np.ndarray) -> np.ndarray:
    """Mask of rows where the target and every array are finite; checks there are enough."""
    mask = np.isfinite(target)
    for array in arrays:
        mask &= np.isfinite(array)
    if mask.sum() < MIN_CALIBRATION_SIZE:
        raise InputError(
            f"calibration of task {task!r}: {int(mask.sum())} molecule(s) with a target and a "
            f"prediction; expected at least {MIN_CALIBRATION_SIZE} validation molecules"
        )
    return mask


def conformal_quantile(scores: np.ndarray, coverage: float) -> float:
    """Finite-sample split-conformal quantile: the ``ceil((n + 1) coverage)``-th smallest score.

    Args:
        scores: Sorted (ascending) calibration scores. ``[n]``.
        coverage: Target coverage ``1 - alpha`` in ``(0, 1)``.

    Returns:
        The quantile ``q``; ``inf`` when ``k > n``, i.e. ``coverage > n / (n + 1)``: so few
        calibration molecules guarantee that coverage only with an unbounded interval (a
        command line should check :attr:`Calibration.max_coverage` and say so).

    Raises:
        InputError: For a coverage outside ``(0, 1)``.
    """
    coverage = _check_coverage(coverage)
    n = len(scores)
    # the tolerance keeps e.g. (9 + 1) * 0.9 = 9.000000000000002 at k = 9
    k = math.ceil((n + 1) * coverage - 1e-9)
    return float(scores[max(k, 1) - 1]) if k <= n else math.inf


def _finite(task: str, name: str, value, positive: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (positive and value <= 0):
        expected = "a finite number > 0" if positive else "a finite number"
        raise InputError(f"calibration of task {task!r}: {name}={value!r}; expected {expected}")
    return float(value)


def float_list(task: str, name: str, values, increasing: bool = False) -> tuple[float, ...]:
    """``values`` (a non-empty list of finite numbers, optionally ascending) as a tuple."""
    if not isinstance(values, (list, tuple)) or not values:
        raise InputError(
            f"calibration of task {task!r}: {name} is {type(values).__name__}; "
            "expected a non-empty list of numbers"
        )
    out = tuple(_finite(task, f"{name}[{i}]", v) for i, v in enumerate(values))
    if increasing and any(b < a for a, b in zip(out, out[1:], strict=False)):
        raise InputError(f"calibration of task {task!r}: {name} is not sorted ascending")
    return out


def read_fields(cls, raw: dict) -> dict:
    """Check the keys and the version of a stored calibration dict; returns its fields."""
    if not isinstance(raw, dict):
        raise InputError(f"{cls.__name__}: received {type(raw).__name__}; expected a dict")
    fields = set(cls.__dataclass_fields__)
    task = raw.get("task", "?")
    missing, unknown = sorted(fields - set(raw)), sorted(set(raw) - fields)
    if missing or unknown:
        raise InputError(
            f"calibration of task {task!r}: missing fields {missing}, unknown fields {unknown}; "
            f"expected exactly {sorted(fields)}"
        )
    if raw["version"] != CALIBRATION_VERSION:
        raise InputError(
            f"calibration of task {task!r}: version={raw['version']!r}; this molprop reads "
            f"version {CALIBRATION_VERSION}"
        )
    return dict(raw)


@dataclass(frozen=True)
class Calibration:
    """Regression calibration of one task: z-scaling factor, std floor and conformal scores.

    Attributes:
        task: Task name.
        scale: z-scaling factor ``c``.
        std_floor: Predicted stds below this are raised to it (target units).
        coverage: Coverage the run was calibrated for (the default of :meth:`apply`).
        scores: Sorted normalised scores ``|y - mu| / (c s)`` of the calibration molecules.
        version: Format version of :meth:`to_dict`.
        distance_weight: Weight ``w`` of the training-set distance in the raw variance
            ``s^2 + w d`` (0: no distance; also every record written before it existed).
    """

    task: str
    scale: float
    std_floor: float
    coverage: float
    scores: tuple[float, ...]
    version: int = CALIBRATION_VERSION
    distance_weight: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.task, str):
            raise InputError(f"calibration: task={self.task!r}; expected a task name (str)")
        _finite(self.task, "scale", self.scale, positive=True)
        _finite(self.task, "std_floor", self.std_floor, positive=True)
        _check_coverage(self.coverage, f"calibration of task {self.task!r}: coverage")
        scores = float_list(self.task, "scores", self.scores, increasing=True)
        if scores[0] < 0:
            raise InputError(f"calibration of task {self.task!r}: scores must be >= 0")
        object.__setattr__(self, "scores", scores)
        weight = _finite(self.task, "distance_weight", self.distance_weight)
        if weight < 0:
            raise InputError(f"calibration of task {self.task!r}: distance_weight must be >= 0")

    def to_dict(self) -> dict:
        """JSON-safe dict (``from_dict`` reads it back)."""
        return {
            "task": self.task,
            "scale": self.scale,
            "std_floor": self.std_floor,
            "coverage": self.coverage,
            "scores": list(self.scores),
            "version": self.version,
            "distance_weight": self.distance_weight,
        }

    @classmethod
    def from_dict(cls, raw: dict) -> Calibration:
        """Rebuild from :meth:`to_dict` output; ``InputError`` names any invalid field."""
        if isinstance(raw, dict) and "distance_weight" not in raw:  # written before it existed
            raw = {**raw, "distance_weight": 0.0}
        return cls(**read_fields(cls, raw))

    @property
    def max_coverage(self) -> float:
        """Highest coverage with a finite interval, ``n / (n + 1)`` for ``n`` scores."""
        return len(self.scores) / (len(self.scores) + 1)

    def quantile(self, coverage: float | None = None) -> float:
        """Conformal quantile ``q`` (in calibrated stds) at ``coverage`` (default: the run's)."""
        return conformal_quantile(
            np.asarray(self.scores), self.coverage if coverage is None else coverage
        )

    def apply(
        self,
        mean: np.ndarray,
        std: np.ndarray,
        coverage: float | None = None,
        distance: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Calibrated std and conformal interval of predictions ``mean`` with raw ``std``.

        Args:
            mean: Point predictions, any shape (NaN for failed rows passes through).
            std: Uncalibrated predicted std, same shape.
            coverage: Interval coverage; the calibrated one when ``None``.
            distance: Training-set distance, same shape; needed when ``distance_weight > 0``.

        Returns:
            ``(std_cal, lower, upper)``, each the shape of ``mean``.
        """
        mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
        if self.distance_weight > 0:
            if distance is None:
                raise InputError(
                    f"calibration of task {self.task!r} uses the training-set distance "
                    f"(weight {self.distance_weight:.3g}); received no distances"
                )
            std = with_distance(std, distance, self.distance_weight)
        std_cal = self.scale * np.maximum(std, self.std_floor)
        half = self.quantile(coverage) * std_cal
        return std_cal, mean - half, mean + half


def with_distance(std: np.ndarray, distance: np.ndarray, weight: float) -> np.ndarray:
    """Raw std with the distance part: ``sqrt(std^2 + weight * distance)``, any shape."""
    return np.sqrt(np.square(std) + weight * np.asarray(distance, dtype=np.float64))


def _floor_and_scale(residual: np.ndarray, std: np.ndarray, floor_fraction: float):
    """``(floor, sigma, scale)``: the std floor, the floored std and the z-scaling factor."""
    positive = std[std > 0]
    floor = floor_fraction * float(np.median(positive)) if positive.size else 1.0
    sigma = np.maximum(std, floor)
    scale = float(np.sqrt(np.mean((residual / sigma) ** 2)))
    if scale == 0.0:  # every prediction exact: keep a tiny but valid positive scale
        scale = float(np.finfo(np.float64).tiny)
    return floor, sigma, scale


def fit_distance_weight(
    residual: np.ndarray, std: np.ndarray, distance: np.ndarray, floor_fraction: float
) -> float:
    """Weight ``w`` of the distance minimising the z-scaled validation NLL (module doc).

    Args:
        residual: ``y - mu`` of the calibration molecules. ``[n]``.
        std: Their raw std. ``[n]``.
        distance: Their training-set distance. ``[n]``.
        floor_fraction: As in :func:`fit_calibration`.
    """
    var, positive = np.square(std), distance[distance > 0]
    if not positive.size:
        return 0.0
    base = float(np.median(var[var > 0])) if np.any(var > 0) else float(np.mean(residual**2))
    base /= float(np.median(positive))
    weights = [0.0, *(base * 10.0**DISTANCE_WEIGHT_DECADES)]
    nll = []
    for w in weights:  # mean Gaussian NLL without its constant, after floor and z-scaling
        _, sigma, scale = _floor_and_scale(residual, np.sqrt(var + w * distance), floor_fraction)
        nll.append(float(np.mean(np.log(sigma))) + np.log(scale))
    return float(weights[int(np.argmin(nll))])  # the first minimum: w = 0 on ties


def fit_calibration(
    mean: np.ndarray,
    std: np.ndarray,
    target: np.ndarray,
    task: str,
    coverage: float = DEFAULT_COVERAGE,
    floor_fraction: float = DEFAULT_FLOOR_FRACTION,
    distance: np.ndarray | None = None,
) -> Calibration:
    """Fit z-scaling and conformal scores of one regression task on validation molecules.

    Args:
        mean: Point predictions. ``[n]``.
        std: Uncalibrated predicted std (e.g. ``sqrt`` of a total variance). ``[n]``.
        target: Targets, NaN where missing. ``[n]``.
        task: Task name (for messages and the record).
        coverage: Default interval coverage of the run.
        floor_fraction: Std floor as a fraction of the median positive std.
        distance: Training-set distances ``[n]``: also fit their weight (module doc).

    Returns:
        The task's :class:`Calibration`.

    Raises:
        InputError: For negative stds or fewer than :data:`MIN_CALIBRATION_SIZE` molecules.
    """
    mean, std, target = (np.asarray(a, dtype=np.float64).ravel() for a in (mean, std, target))
    extra = () if distance is None else (np.asarray(distance, dtype=np.float64).ravel(),)
    mask = valid_rows(task, target, mean, std, *extra)
    mean, std, target = mean[mask], std[mask], target[mask]
    if np.any(std < 0):
        raise InputError(f"calibration of task {task!r}: std has negative values; expected >= 0")
    weight = 0.0
    if distance is not None:
        weight = fit_distance_weight(target - mean, std, extra[0][mask], floor_fraction)
        std = with_distance(std, extra[0][mask], weight)
    floor, sigma, scale = _floor_and_scale(target - mean, std, floor_fraction)
    scores = np.sort(np.abs((target - mean) / sigma) / scale)
    return Calibration(
        task, scale, floor, _check_coverage(coverage), tuple(scores.tolist()),
        distance_weight=weight,
    )  # fmt: skip
