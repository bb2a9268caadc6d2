"""Calibration of classification probabilities on the validation split: Platt or isotonic.

Classification (per task): **Platt** scaling fits ``p' = sigmoid(a logit(p) + b)`` by Newton's
method on the log-loss, with Platt's smoothed targets ``(N+ + 1)/(N+ + 2)`` and
``1/(N- + 2)`` so that separable data give a finite slope; **isotonic** fits a
non-decreasing step function by pool-adjacent-violators and interpolates linearly between
the ends of its steps. NaN targets (missing values) are masked task by task.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit

from molprop.exceptions import InputError
from molprop.uncertainty.calibration import CALIBRATION_VERSION, float_list, read_fields, valid_rows

PROBABILITY_METHODS = ("platt", "isotonic")
_PROB_EPS = 1e-6


@dataclass(frozen=True)
class ProbabilityCalibration:
    """Classification calibration of one task.

    Attributes:
        task: Task name.
        method: ``"platt"`` or ``"isotonic"``.
        x: Platt: ``(a,)`` slope on the logit; isotonic: increasing probability knots.
        y: Platt: ``(b,)`` intercept; isotonic: calibrated probability at each knot.
        version: Format version of :meth:`to_dict`.
    """

    task: str
    method: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    version: int = CALIBRATION_VERSION

    def __post_init__(self) -> None:
        if self.method not in PROBABILITY_METHODS:
            raise InputError(
                f"calibration of task {self.task!r}: method={self.method!r}; expected one of "
                f"{PROBABILITY_METHODS}"
            )
        isotonic = self.method == "isotonic"
        x = float_list(self.task, "x", self.x, increasing=isotonic)
        y = float_list(self.task, "y", self.y, increasing=isotonic)
        expected = len(x) if isotonic else 1
        if len(x) != expected or len(y) != expected:
            raise InputError(
                f"calibration of task {self.task!r}: {len(x)} x and {len(y)} y values; expected "
                f"{'as many y as x' if isotonic else 'one each for platt'}"
            )
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    def to_dict(self) -> dict:
        """JSON-safe dict (``from_dict`` reads it back)."""
        return {
            "task": self.task,
            "method": self.method,
            "x": list(self.x),
            "y": list(self.y),
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, raw: dict) -> ProbabilityCalibration:
        """Rebuild from :meth:`to_dict` output; ``InputError`` names any invalid field."""
        return cls(**read_fields(cls, raw))

    def apply(self, prob: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, same shape as ``prob`` (NaN passes through)."""
        p = np.asarray(prob, dtype=np.float64)
        if self.method == "platt":
            z = logit(np.clip(p, _PROB_EPS, 1 - _PROB_EPS))
            return expit(self.x[0] * z + self.y[0])
        return np.interp(p, self.x, self.y)


def platt_fit(prob: np.ndarray, label: np.ndarray, max_iter: int = 100) -> tuple[float, float]:
    """Slope ``a`` and intercept ``b`` of ``sigmoid(a logit(p) + b)`` (Newton, smoothed targets).

    Args:
        prob: Predicted probabilities. ``[n]``.
        label: 0/1 labels. ``[n]``.
        max_iter: Newton iterations at most.

    Returns:
        ``(a, b)``; ``(1, 0)`` is the identity.
    """
    x = logit(np.clip(prob, _PROB_EPS, 1 - _PROB_EPS))
    n_pos = float(label.sum())
    n_neg = len(label) - n_pos
    t = np.where(label > 0.5, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    design = np.stack([x, np.ones_like(x)], axis=1)

    def loss(w: np.ndarray) -> float:
        z = design @ w
        return float(np.sum(np.logaddexp(0.0, z) - t * z))

    w = np.array([1.0, 0.0])
    for _ in range(max_iter):
        p = expit(design @ w)
        grad = design.T @ (p - t)
        hess = design.T @ (design * (p * (1 - p))[:, None])
        step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        size, current = 1.0, loss(w)
        while loss(w - size * step) > current and size > 1e-10:  # backtracking keeps descent
            size /= 2
        w = w - size * step
        if np.max(np.abs(size * step)) < 1e-10:
            break
    return float(w[0]), float(w[1])


def isotonic_fit(prob: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool-adjacent-violators fit of a non-decreasing map from probability to label rate.

    Args:
        prob: Predicted probabilities. ``[n]``.
        label: 0/1 labels. ``[n]``.

    Returns:
        ``(knots, values)``: strictly increasing knots (each step's lowest and highest input)
        and the step values; :func:`numpy.interp` between them is the calibration map.
    """
    xs, inverse, counts = np.unique(prob, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=label.astype(np.float64))
    # blocks as [sum of labels, weight, lowest knot index, highest knot index]
    blocks: list[list[float]] = []
    for i in range(len(xs)):
        blocks.append([sums[i], float(counts[i]), i, i])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, w, _, hi = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += w
            blocks[-1][3] = hi
    knots, values = [], []
    for s, w, lo, hi in blocks:
        for index in sorted({int(lo), int(hi)}):
            knots.append(xs[index])
            values.append(s / w)
    return np.asarray(knots), np.asarray(values)


def fit_probability_calibration(
    prob: np.ndarray, target: np.ndarray, task: str, method: str = "platt"
) -> ProbabilityCalibration:
    """Fit Platt or isotonic calibration of one classification task.

    Args:
        prob: Predicted probabilities. ``[n]``.
        target: 0/1 labels, NaN where missing. ``[n]``.
        task: Task name.
        method: ``"platt"`` or ``"isotonic"``.

    Returns:
        The task's :class:`ProbabilityCalibration`.

    Raises:
        InputError: For an unknown method, probabilities outside ``[0, 1]`` or too few labels.
    """
    if method not in PROBABILITY_METHODS:
        raise InputError(f"calibration method={method!r}; expected one of {PROBABILITY_METHODS}")
    prob, target = (np.asarray(a, dtype=np.float64).ravel() for a in (prob, target))
    mask = valid_rows(task, target, prob)
    prob, label = prob[mask], np.round(target[mask])
    if np.any((prob < 0) | (prob > 1)) or np.any((label != 0) & (label != 1)):
        raise InputError(
            f"calibration of task {task!r}: expected probabilities in [0, 1] and 0/1 labels"
        )
    if method == "platt":
        a, b = platt_fit(prob, label)
        return ProbabilityCalibration(task, method, (a,), (b,))
    knots, values = isotonic_fit(prob, label)
    return ProbabilityCalibration(task, method, tuple(knots.tolist()), tuple(values.tolist()))
