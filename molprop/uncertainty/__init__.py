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
  the conformer part when it is the only one). Classification: ``p (1 - p)``.
* :mod:`.calibration`: z-scaling (one factor per task, the closed-form Gaussian-NLL
  minimiser) and normalised split-conformal intervals (``Calibration.apply``).
* :mod:`.probability`: Platt or isotonic calibration of probabilities.
* :mod:`.record`: ``CalibrationSet``, the per-run record ``model/model.json`` stores, and the
  names of the columns it makes possible.
* :mod:`.evaluation` / :mod:`.report`: Gaussian NLL, miscalibration area, ENCE,
  Spearman(sigma, |error|), interval coverage and width, selective-prediction curve, Brier,
  ECE, seeded (paired) bootstrap intervals; ``regression_report`` gives the metrics.json dict.
* :mod:`.plots`: ``calibration.png`` (error-based calibration plot and coverage curve).

Output columns of ``predict`` (per task ``<task>``)
----------------------------------------------------
Regression: ``<task>`` (bagged prediction, unchanged), ``<task>_conformer_std`` and
``<task>_ensemble_std`` (M > 1), the raw spreads as today, ``<task>_mve_std`` (variance
head only: the square root of the ``mve`` part), then ``<task>_std``: the calibrated std
``scale * max(sqrt(total), std_floor)`` in target units, and ``<task>_lower`` /
``<task>_upper``: the conformal interval ``<task> -+ q * <task>_std`` at ``--coverage``
(default: the run's, 0.9). Classification: ``<task>`` (bagged probability, unchanged),
``<task>_calibrated`` (Platt/isotonic probability) and ``<task>_std`` =
``sqrt(p (1 - p))`` of the calibrated probability. :func:`.record.uncertainty_columns` names
them; ``output_columns`` in :mod:`molprop.inference.predictor` appends it.

Integration plan (after the current edits of those files merge)
----------------------------------------------------------------
Config: ``model.variance_head`` (false) is passed to ``MolpropModule``; a new
``uncertainty`` group holds ``components: auto``, ``coverage: 0.9``, ``method: platt``
(classification) and ``floor_fraction: 0.05``.

``artifacts.ModelSpec`` gains ``variance_head: bool = False`` (passed on by
``build_model``) and ``uncertainty: dict | None = None`` (``CalibrationSet.to_dict()``).
Both have defaults, so an old ``model.json`` still loads and ``FORMAT_VERSION`` stays 1.

``train/outputs.write_outputs``, for val and then test:

1. Per member keep the conformer-bagged ``Aggregated`` (``aggregate_conformers``); with a
   variance head also collect ``PropertyModel.predict_with_variance`` and bag the variances
   with ``aggregate_conformers(var, mol_idx, "mean")``.
2. ``parts = parts_from_aggregated(members, variances)``;
   ``components = resolve_components(cfg.uncertainty.components, parts.available())``;
   ``std = np.sqrt(parts.total(components))``; ``mean`` = the ensemble's ``prediction``.
3. On val: ``record = calibrate_regression(mean, std, target, names, components,
   coverage)`` (classification: ``calibrate_classification(prob, target, names, method)``);
   store ``record.to_dict()`` in ``ModelSpec.uncertainty``.
4. On test: ``std_cal, lower, upper = record.apply(mean, std)``;
   ``metrics["uncertainty"] = {"test": regression_report(target, mean, std_cal, names,
   lower, upper, n_boot=1000)}`` (classification: ``classification_report`` of raw and
   calibrated probabilities); ``calibration_plot(target, mean, std_cal, names,
   run.root / "calibration.png", lower, upper, coverage)``; the same three columns go into
   ``test_predictions.csv``.

``inference/predictor``: ``record = load_record(spec.uncertainty)``; when it is ``None``,
print ``missing_columns_note(record, names, task)`` once and leave those columns out.
Otherwise ``predict_graphs`` keeps the member ``Aggregated`` it already builds, computes
``std`` as in step 2 with ``record.components`` and fills ``record.apply(prediction, std,
coverage)``; the CLI gets ``--coverage`` (default ``None``: the run's) and says when it is
above a task's ``Calibration.max_coverage`` (``n / (n + 1)``, then the bounds are infinite).

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
