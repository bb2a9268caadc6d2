"""What each variance part adds: the run's calibration refitted for every combination of parts.

A run's std is ``sqrt`` of the sum of the variance parts it was configured with
(:mod:`molprop.uncertainty.estimators`). To show what each part contributes (does the
conformer spread say something the ensemble spread or the variance head does not?), the same
z-scaling + normalised split-conformal calibration (:func:`.record.calibrate_regression`) is
fitted on validation for every non-empty combination of the available parts and scored on
test with :func:`.report.regression_report` (no bootstrap). Combinations are named by their
parts joined with ``+`` in :data:`PART_ORDER` order, e.g. ``"conformer+ensemble+mve"``.

The arrays are the ones the run already has (``[n, T]`` per split), so this costs no model
pass; training writes the result as the ``uncertainty.parts`` section of ``metrics.json``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from molprop.uncertainty.calibration import DEFAULT_COVERAGE, DEFAULT_FLOOR_FRACTION
from molprop.uncertainty.estimators import VarianceParts
from molprop.uncertainty.record import CalibrationSet, calibrate_regression
from molprop.uncertainty.report import regression_report

#: Order of the parts in a combination's name.
PART_ORDER = ("conformer", "ensemble", "mve", "distance")


def part_combinations(available: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Every non-empty combination of the ``available`` parts, by its ``+``-joined name.

    Smaller combinations first, each in :data:`PART_ORDER` order: ``conformer``,
    ``ensemble``, ..., ``conformer+ensemble``, ..., ``conformer+ensemble+mve``.
    """
    present = [p for p in PART_ORDER if p in available]
    sizes = range(1, len(present) + 1)
    combos = (c for size in sizes for c in itertools.combinations(present, size))
    return {"+".join(combo): combo for combo in combos}


def part_calibrations(
    mean: np.ndarray,
    target: np.ndarray,
    parts: VarianceParts,
    task_names: Sequence[str],
    coverage: float = DEFAULT_COVERAGE,
    floor_fraction: float = DEFAULT_FLOOR_FRACTION,
) -> dict[str, CalibrationSet]:
    """Calibrations fitted on validation, one per combination of the available parts.

    Args:
        mean: Validation point predictions. ``[n, T]``.
        target: Validation targets, NaN where missing. ``[n, T]``.
        parts: The validation variance parts.
        task_names: The ``T`` task names.
        coverage: Interval coverage.
        floor_fraction: Std floor as a fraction of the median positive std.

    Returns:
        ``{name: record}``, the std of ``name`` being ``sqrt`` of its parts' summed variance.

    Raises:
        InputError: When a task has fewer than two validation molecules with a target.
    """
    return {
        name: calibrate_regression(
            mean,
            np.sqrt(parts.total(combo)),
            target,
            task_names,
            combo,
            coverage,
            floor_fraction,
            parts.distances(combo),
        )
        for name, combo in part_combinations(parts.available()).items()
    }


def parts_report(
    calibrations: dict[str, CalibrationSet],
    mean: np.ndarray,
    target: np.ndarray,
    parts: VarianceParts,
) -> dict[str, dict]:
    """Test scores of each combination's calibration (:func:`part_calibrations`).

    Args:
        calibrations: ``{name: record}`` fitted on validation.
        mean: Test point predictions. ``[n, T]``.
        target: Test targets, NaN where missing. ``[n, T]``.
        parts: The test variance parts.

    Returns:
        ``{name: regression_report(...)}`` at each record's coverage, without bootstrap.
    """
    out = {}
    for name, record in calibrations.items():
        std, lower, upper = record.apply(
            mean, np.sqrt(parts.total(record.components)), None, parts.distances(record.components)
        )
        out[name] = regression_report(target, mean, std, record.task_names, lower, upper)
    return out
