"""Per-molecule uncertainty: variance estimates, calibration on the validation split, scores.

Plain numpy/scipy (torch only to read :class:`molprop.bagging.Aggregated`); no Lightning or
Hydra, so ``train``, ``predict`` and the benchmark scripts (which also score other tools'
predictions) call the same functions.

Modules
-------
* :mod:`.estimators`: variance parts from ``[M, n, T]`` member arrays: ``ensemble``
  (variance over the M members), ``conformer`` (each member's variance over its K conformers,
  averaged over members), ``mve`` (mean over members of the variance head's prediction);
  ``VarianceParts.total(components)`` sums the chosen ones (``"auto"``: ensemble + mve, or
  the conformer part when it is the only one; plus ``distance`` where computed).
  Classification: ``p (1 - p)``.
* :mod:`.domain`: the training-set distance ``d = 1 - max Tanimoto`` (Morgan fingerprints)
  and the stored training fingerprints; :mod:`.calibration` fits its weight ``w`` in the raw
  variance ``total + w d`` on validation.
* :mod:`.calibration`: z-scaling (one factor per task, the closed-form Gaussian-NLL
  minimiser) and normalised split-conformal intervals (``Calibration.apply``).
* :mod:`.probability`: Platt or isotonic calibration of probabilities.
* :mod:`.record`: ``CalibrationSet``, the per-run record ``model/model.json`` stores, and the
  names of the columns it makes possible.
* :mod:`.evaluation` / :mod:`.report`: Gaussian NLL, miscalibration area, ENCE,
  Spearman(sigma, |error|), interval coverage and width, selective-prediction curve and its
  top-half ratio RMSE(most confident half) / RMSE(all), Brier, ECE, seeded (paired) bootstrap
  intervals; ``regression_report`` gives the metrics.json dict; ``report.REGRESSION_SCORES``
  names each score with the columns it takes.
* :mod:`.parts`: the calibration refitted for every combination of variance parts
  (``"conformer"``, ..., ``"conformer+ensemble+mve"``) and its test scores.
* :mod:`.plots`: ``calibration.png`` (error-based calibration plot and coverage curve).
* :mod:`.columns`: the calibrated output columns, computed once for train and predict.
* :mod:`.config`: the typed ``uncertainty`` config group.

Output columns of ``predict`` (per task ``<task>``)
----------------------------------------------------
Regression: ``<task>`` (bagged prediction, unchanged), ``<task>_conformer_std`` and
``<task>_ensemble_std`` (M > 1), the raw spreads as today, ``<task>_mve_std`` (variance
head only: the square root of the ``mve`` part), ``<task>_train_distance`` (when the record
uses the distance: ``d`` of the molecule), then ``<task>_std``: the calibrated std
``scale * max(sqrt(total + w d), std_floor)`` in target units, and ``<task>_lower`` /
``<task>_upper``: the conformal interval ``<task> -+ q * <task>_std`` at ``--coverage``
(default: the run's, 0.9). Classification: ``<task>`` (bagged probability, unchanged),
``<task>_calibrated`` (Platt/isotonic probability) and ``<task>_std`` =
``sqrt(p (1 - p))`` of the calibrated probability. :func:`.record.uncertainty_columns` names
them; :func:`molprop.columns.output_columns` places them before ``num_conformers``.

How train and predict use it
----------------------------
Config: ``model.variance_head`` (false) and the ``uncertainty`` group
(:class:`.config.UncertaintyConfig`: ``components``, ``coverage``, ``method``,
``floor_fraction``), checked before training (:func:`molprop.train.uncertainty.check_uncertainty`).

Train (:mod:`molprop.train.uncertainty`, called by ``train/outputs.write_outputs``): each
member's conformer-bagged predictions (and bagged predicted variances) give
``parts_from_aggregated``; the std ``sqrt(parts.total(components))`` and the ensemble
prediction are calibrated on val (``calibrate_regression`` / ``calibrate_classification``)
and ``record.to_dict()`` is stored as ``ModelSpec.uncertainty`` (``ModelSpec.variance_head``
beside it; both default, so an older ``model.json`` loads). On test,
:func:`.columns.calibrated_columns` fills the columns of ``test_predictions.csv``,
``regression_report`` / ``classification_report`` (raw and calibrated, 1000 bootstrap
replicates) the ``uncertainty`` section of ``metrics.json``, and :func:`.plots.calibration_plot`
writes ``calibration.png``. Regression runs add ``uncertainty.parts``:
``{"conformer": {scores}, "ensemble+mve": {...}, ...}``, one ``regression_report`` (no
bootstrap) per non-empty combination of the available parts, each calibrated on val alone
(:func:`.parts.part_calibrations`, :func:`.parts.parts_report`).

Predict (:class:`molprop.inference.predictor.Predictor`): ``load_record(spec.uncertainty)``;
``None`` logs ``missing_columns_note`` once and leaves those columns out. Otherwise the same
:func:`.columns.calibrated_columns` at ``--coverage`` (default the run's); a coverage above a
task's ``Calibration.max_coverage`` (``n / (n + 1)``) is warned about (its bounds are infinite).

Scoring another tool (e.g. chemprop, ``M`` models): ``variance_parts(means [M, n, T])`` on
its val and test predictions, then steps 3 and 4 unchanged; ``evaluation.bootstrap_ci`` on
the same molecules gives paired intervals of the differences between the two tools.
"""

from molprop.uncertainty.calibration import (
    DEFAULT_COVERAGE,
    Calibration,
    conformal_quantile,
    fit_calibration,
)
from molprop.uncertainty.estimators import (
    COMPONENTS,
    VarianceParts,
    bernoulli_variance,
    parts_from_aggregated,
    resolve_components,
    variance_parts,
)
from molprop.uncertainty.evaluation import bootstrap_ci
from molprop.uncertainty.probability import ProbabilityCalibration, fit_probability_calibration
from molprop.uncertainty.record import (
    CalibrationSet,
    calibrate_classification,
    calibrate_regression,
    load_record,
    missing_columns_note,
    uncertainty_columns,
)
from molprop.uncertainty.report import classification_report, regression_report

__all__ = [
    "COMPONENTS",
    "DEFAULT_COVERAGE",
    "Calibration",
    "CalibrationSet",
    "ProbabilityCalibration",
    "VarianceParts",
    "bernoulli_variance",
    "bootstrap_ci",
    "calibrate_classification",
    "calibrate_regression",
    "classification_report",
    "conformal_quantile",
    "fit_calibration",
    "fit_probability_calibration",
    "load_record",
    "missing_columns_note",
    "parts_from_aggregated",
    "regression_report",
    "resolve_components",
    "uncertainty_columns",
    "variance_parts",
]
