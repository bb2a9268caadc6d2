"""Per-molecule variance estimates from ensemble members, conformers and a mean-variance head.

Shapes: ``M`` ensemble members, ``n`` molecules, ``T`` tasks. Every input is already
aggregated over each molecule's ``K`` conformers *per member* (see :mod:`molprop.bagging`),
in output space (target units for regression, probabilities for classification):

* ``means [M, n, T]``: the member's conformer-bagged prediction;
* ``conformer_var [M, n, T]``: the member's population variance over its ``K`` conformer
  predictions (``Aggregated.conformer_std ** 2``);
* ``mve_var [M, n, T]``: the member's predicted variance (mean-variance head), averaged over
  the ``K`` conformers, in target units.

A 2-D ``[n, T]`` array is read as one member (``M = 1``).

The parts combine as in the law of total variance: an ensemble of Gaussians
``N(mu_m, s_m^2)`` mixed with equal weights has variance ``mean_m s_m^2 + var_m mu_m``, i.e.
``mve + ensemble``. The conformer spread is a different quantity (how much the prediction
moves between the molecule's 3-D conformers, which 2-D models cannot report); it is kept as
its own part and enters the total only when asked for, or when it is the only part there is.

``distance`` (:mod:`molprop.uncertainty.domain`) is not a variance: ``total`` leaves it out
and the calibration fits its weight; ``"auto"`` adds it wherever it was computed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from molprop.exceptions import InputError

#: Names of the variance parts a total can be built from.
VARIANCES = ("ensemble", "mve", "conformer")
#: Every part an uncertainty can be built from: the variances and the training-set distance.
COMPONENTS = (*VARIANCES, "distance")
#: Parts summed by ``components="auto"``, when available (see :func:`resolve_components`).
AUTO_COMPONENTS = ("ensemble", "mve")


def _as_members(
    name: str, values: np.ndarray | None, shape: tuple | None = None, variance: bool = True
):
    """``values`` as a float ``[M, n, T]`` array (``None`` passes through).

    ``variance``: also refuse negative values (predictions may be negative, variances not).
    """
    if values is None:
        return None
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise InputError(f"{name}: received shape {array.shape}; expected [M, n, T] or [n, T]")
    if shape is not None and array.shape != shape:
        raise InputError(f"{name}: received shape {array.shape}; expected {shape} like means")
    if variance and np.any(array < 0):
        raise InputError(f"{name}: received negative variances; expected values >= 0")
    return array


@dataclass(frozen=True)
class VarianceParts:
    """Per-molecule variance parts, each ``[n, T]`` (``None`` when not available).

    Attributes:
        mean: Mean over members of the members' predictions. ``[n, T]``.
        ensemble: Population variance over the ``M`` members (``None`` for ``M = 1``).
        conformer: Mean over members of the conformer variance.
        mve: Mean over members of the predicted (mean-variance head) variance.
        distance: Training-set distance of each molecule, repeated per task (not a variance).
    """

    mean: np.ndarray
    ensemble: np.ndarray | None = None
    conformer: np.ndarray | None = None
    mve: np.ndarray | None = None
    distance: np.ndarray | None = None

    def available(self) -> tuple[str, ...]:
        """Names of the parts that are not ``None``, in :data:`COMPONENTS` order."""
        return tuple(c for c in COMPONENTS if getattr(self, c) is not None)

    def total(self, components: str | Sequence[str] = "auto") -> np.ndarray:
        """Sum of the chosen variance parts (``distance`` left out; 0 if none). ``[n, T]``.

        Args:
            components: ``"auto"`` or names from :data:`COMPONENTS`.

        Raises:
            InputError: For an unknown or unavailable part.
        """
        chosen = resolve_components(components, self.available())
        variances = [getattr(self, c) for c in chosen if c in VARIANCES]
        return np.sum(variances, axis=0) if variances else np.zeros_like(self.mean)

    def distances(self, components: Sequence[str]) -> np.ndarray | None:
        """Return the distance part when ``components`` name it, else ``None``. ``[n, T]``."""
        return self.distance if "distance" in components else None

    def with_distance(self, distance: np.ndarray | None) -> VarianceParts:
        """Return these parts plus the training-set distance ``[n]`` of the same molecules."""
        if distance is None:
            return self
        d = np.asarray(distance, dtype=np.float64).reshape(-1, 1)
        if d.shape[0] != self.mean.shape[0]:
            raise InputError(
                f"distance: received {d.shape[0]} values; expected {self.mean.shape[0]} molecules"
            )
        return dataclasses.replace(self, distance=np.repeat(d, self.mean.shape[1], axis=1))


def resolve_components(
    components: str | Sequence[str], available: Sequence[str]
) -> tuple[str, ...]:
    """Choose the parts a total is built from.

    ``"auto"`` means ensemble + MVE variance where present (the law-of-total-variance
    total) and, for a single model without a variance head, the conformer variance: then it is
    the only per-molecule signal there is.

    Args:
        components: ``"auto"`` or a sequence of names from :data:`COMPONENTS`.
        available: Parts that were estimated.

    Returns:
        The chosen names, in :data:`COMPONENTS` order.

    Raises:
        InputError: For an unknown name, a part that was not estimated or an empty choice.
    """
    if isinstance(components, str):
        if components != "auto":
            components = (components,)
        else:
            auto = tuple(c for c in AUTO_COMPONENTS if c in available)
            auto = auto or tuple(c for c in ("conformer",) if c in available)
            components = auto + (("distance",) if "distance" in available else ())
    unknown = [c for c in components if c not in COMPONENTS]
    if unknown:
        raise InputError(
            f"uncertainty components: received {unknown}; expected 'auto' or names from "
            f"{COMPONENTS}"
        )
    missing = [c for c in components if c not in available]
    if missing or not components:
        raise InputError(
            f"uncertainty components: {list(components)} requested but only "
            f"{list(available)} were estimated (ensemble needs M > 1 models, mve a "
            "variance head, conformer per-conformer predictions, distance the training "
            "fingerprints of a regression run)"
        )
    return tuple(c for c in COMPONENTS if c in components)


def variance_parts(
    means: np.ndarray, conformer_var: np.ndarray | None = None, mve_var: np.ndarray | None = None
) -> VarianceParts:
    """Combine per-member estimates into per-molecule variance parts.

    Args:
        means: Members' conformer-bagged predictions. ``[M, n, T]`` (or ``[n, T]``).
        conformer_var: Members' variance over conformers, same shape, or ``None``.
        mve_var: Members' predicted variance (target units), same shape, or ``None``.

    Returns:
        :class:`VarianceParts`; ``ensemble`` is the population variance over members
        (``ddof=0``, as ``ensemble_std`` in :mod:`molprop.bagging`), ``None`` for ``M = 1``.

    Raises:
        InputError: For arrays of the wrong shape or negative variances.
    """
    mu = _as_members("means", means, variance=False)
    conf = _as_members("conformer_var", conformer_var, mu.shape)
    mve = _as_members("mve_var", mve_var, mu.shape)
    ensemble = mu.var(axis=0) if mu.shape[0] > 1 else None
    return VarianceParts(
        mean=mu.mean(axis=0),
        ensemble=ensemble,
        conformer=None if conf is None else conf.mean(axis=0),
        mve=None if mve is None else mve.mean(axis=0),
    )


def parts_from_aggregated(members: Sequence, variances: Sequence | None = None) -> VarianceParts:
    """:func:`variance_parts` from :class:`molprop.bagging.Aggregated` objects.

    Args:
        members: One ``Aggregated`` per ensemble member (prediction and ``conformer_std``).
        variances: For a variance head, one ``Aggregated`` per member whose ``prediction`` is
            the conformer-mean of the predicted variance in target units; else ``None``.

    Returns:
        The variance parts of the ensemble.
    """
    means = np.stack([m.prediction.double().cpu().numpy() for m in members])
    conformer = np.stack([m.conformer_std.double().cpu().numpy() ** 2 for m in members])
    mve = None
    if variances is not None:
        mve = np.stack([v.prediction.double().cpu().numpy() for v in variances])
    return variance_parts(means, conformer, mve)


def bernoulli_variance(prob: np.ndarray) -> np.ndarray:
    """Variance ``p (1 - p)`` of a Bernoulli label with predicted probability ``p``.

    Args:
        prob: Probabilities in ``[0, 1]``, any shape (NaN passes through).

    Returns:
        The variances, same shape.

    Raises:
        InputError: For probabilities outside ``[0, 1]``.
    """
    p = np.asarray(prob, dtype=np.float64)
    if np.any((p < 0) | (p > 1)):
        raise InputError("prob: received values outside [0, 1]; expected probabilities")
    return p * (1.0 - p)
