"""Typed settings of the ``uncertainty`` config group (``conf/uncertainty/default.yaml``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from molprop.config import check_choice, from_mapping
from molprop.exceptions import InputError
from molprop.uncertainty.calibration import DEFAULT_COVERAGE, DEFAULT_FLOOR_FRACTION
from molprop.uncertainty.estimators import COMPONENTS
from molprop.uncertainty.probability import PROBABILITY_METHODS


def _open_unit(name: str, value: Any, example: float) -> float:
    """``value`` as a float strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise InputError(
            f"uncertainty.{name}: received {value!r}; expected a number in (0, 1), e.g. {example}"
        )
    return float(value)


@dataclass
class UncertaintyConfig:
    """How a run estimates and calibrates per-molecule uncertainty (group ``uncertainty``).

    Attributes:
        components: Regression: the parts of the uncalibrated std, ``"auto"`` (ensemble +
            variance head where present, else the conformer spread; plus the training-set
            distance, weighted on validation) or a list of names from
            :data:`molprop.uncertainty.estimators.COMPONENTS`.
        coverage: Default coverage of the conformal intervals (``predict --coverage``
            overrides it).
        method: Classification probability calibration, ``platt`` or ``isotonic``.
        floor_fraction: Std floor as a fraction of the median positive validation std.
        bootstrap: Replicates of the bootstrap 95% intervals of the test scores in
            ``metrics.json`` (0: no intervals; the cost grows with the number of tasks).
    """

    components: Any = "auto"
    coverage: float = DEFAULT_COVERAGE
    method: str = "platt"
    floor_fraction: float = DEFAULT_FLOOR_FRACTION
    bootstrap: int = 1000

    def __post_init__(self) -> None:
        comps = self.components
        if isinstance(comps, str) and comps != "auto":
            comps = [comps]
        if not isinstance(comps, str):
            names = list(comps) if isinstance(comps, (list, tuple)) else None
            if not names or any(c not in COMPONENTS for c in names):
                raise InputError(
                    f"uncertainty.components: received {self.components!r}; expected 'auto' or "
                    f"a non-empty list of names from {COMPONENTS}"
                )
            comps = tuple(dict.fromkeys(names))
        self.components = comps
        self.coverage = _open_unit("coverage", self.coverage, DEFAULT_COVERAGE)
        self.method = check_choice("uncertainty", "method", self.method, PROBABILITY_METHODS)
        # a zero floor would let a zero spread give a zero-width interval
        self.floor_fraction = _open_unit("floor_fraction", self.floor_fraction, 0.05)
        if isinstance(self.bootstrap, bool) or not isinstance(self.bootstrap, int):
            raise InputError(
                f"uncertainty.bootstrap: received {self.bootstrap!r}; expected an integer >= 0"
            )
        if self.bootstrap < 0:
            raise InputError(
                f"uncertainty.bootstrap: received {self.bootstrap}; expected an integer >= 0"
            )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> UncertaintyConfig:
        """Build from an ``uncertainty`` dict; ``InputError`` for an unknown key or bad value."""
        return from_mapping(cls, d, "uncertainty")
