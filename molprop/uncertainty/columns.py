"""The calibrated uncertainty columns of ``predict`` and ``test_predictions.csv``, built once.

Training (on the test split) and ``predict`` (on new molecules) both call
:func:`calibrated_columns`, so the two files give the same values for the same molecules.
Names come from :func:`molprop.uncertainty.record.uncertainty_columns`.
"""

from __future__ import annotations

import numpy as np

from molprop.uncertainty.estimators import VarianceParts, bernoulli_variance
from molprop.uncertainty.record import (
    CALIBRATED_SUFFIX,
    DISTANCE_SUFFIX,
    LOWER_SUFFIX,
    MVE_STD_SUFFIX,
    STD_SUFFIX,
    UPPER_SUFFIX,
    CalibrationSet,
)


def raw_std(record: CalibrationSet, parts: VarianceParts) -> np.ndarray:
    """Uncalibrated std: square root of the sum of the record's variance parts. ``[n, T]``."""
    return np.sqrt(parts.total(record.components))


def calibrated_columns(
    record: CalibrationSet,
    prediction: np.ndarray,
    parts: VarianceParts | None = None,
    coverage: float | None = None,
) -> dict[str, np.ndarray]:
    """Calibrated columns of every task, by column name.

    Args:
        record: The run's calibration.
        prediction: Bagged predictions (probabilities for classification). ``[n, T]``.
        parts: Regression: the variance parts of the same molecules (ignored otherwise).
        coverage: Interval coverage; the run's when ``None``.

    Returns:
        Regression: ``<task>_mve_std`` (when ``parts`` has a variance-head part),
        ``<task>_train_distance`` (when the calibration uses it), ``<task>_std``,
        ``<task>_lower``, ``<task>_upper``; classification:
        ``<task>_calibrated`` and ``<task>_std = sqrt(p (1 - p))`` of the calibrated
        probability. Each ``[n]``, in target units.
    """
    prediction = np.asarray(prediction, dtype=np.float64)
    names = record.task_names
    out: dict[str, np.ndarray] = {}
    if record.task == "classification":
        # NaN rows (failed molecules) pass through the calibration map
        prob = record.apply_proba(prediction)
        std = np.sqrt(bernoulli_variance(np.clip(prob, 0.0, 1.0)))
        for t, name in enumerate(names):
            out[name + CALIBRATED_SUFFIX] = prob[:, t]
            out[name + STD_SUFFIX] = std[:, t]
        return out
    distance = parts.distances(record.components)
    std_cal, lower, upper = record.apply(prediction, raw_std(record, parts), coverage, distance)
    for t, name in enumerate(names):
        if parts.mve is not None:
            out[name + MVE_STD_SUFFIX] = np.sqrt(parts.mve[:, t])
        if distance is not None:
            out[name + DISTANCE_SUFFIX] = distance[:, t]
        out[name + STD_SUFFIX] = std_cal[:, t]
        out[name + LOWER_SUFFIX] = lower[:, t]
        out[name + UPPER_SUFFIX] = upper[:, t]
    return out
