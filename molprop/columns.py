"""Output column names, defined once for ``predict.py`` output and ``test_predictions.csv``.

Both files follow one contract (the prediction of task ``t`` is the column ``t``, as in
chemprop):

* input columns first, unchanged and in input order; one whose name collides with an
  output column is renamed ``<name>_input``;
* per task ``t``: ``t`` (bagged prediction; a probability for classification),
  ``t_conformer_std`` and, for an ensemble (M > 1), ``t_ensemble_std``;
* a run with an uncertainty calibration adds the columns named by
  :func:`molprop.uncertainty.record.uncertainty_columns` (per task ``t_std``, ``t_lower``,
  ``t_upper``, plus ``t_mve_std`` with a variance head and ``t_train_distance`` when the
  calibration uses the training-set distance; classification ``t_calibrated``,
  ``t_std``), after the task columns;
* ``num_conformers``: conformers the prediction was bagged over (0 for a failed row).

``predict.py`` adds ``error`` (empty, or why the row could not be predicted).
``test_predictions.csv`` starts with ``row`` (the input row index) and adds per task the
measured ``t_true`` (before ``t``) and ``t_single_conformer`` (one conformer of member 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

ROW_COLUMN = "row"
TRUE_SUFFIX = "_true"
CONFORMER_STD_SUFFIX = "_conformer_std"
ENSEMBLE_STD_SUFFIX = "_ensemble_std"
SINGLE_CONFORMER_SUFFIX = "_single_conformer"
NUM_CONFORMERS_COLUMN = "num_conformers"
ERROR_COLUMN = "error"
INPUT_RENAME_SUFFIX = "_input"


def prediction_column(task: str) -> str:
    """Column of the bagged prediction of ``task`` (the task name itself)."""
    return task


def target_column(task: str) -> str:
    """Column of the measured value of ``task`` in ``test_predictions.csv``."""
    return task + TRUE_SUFFIX


def _task_columns(task: str, num_members: int) -> list[str]:
    columns = [prediction_column(task), task + CONFORMER_STD_SUFFIX]
    return columns + ([task + ENSEMBLE_STD_SUFFIX] if num_members > 1 else [])


def output_columns(
    task_names: Sequence[str], num_members: int = 1, uncertainty: Sequence[str] = ()
) -> list[str]:
    """Names of the columns predict appends to the input columns, in output order.

    Args:
        task_names: Task names of the run.
        num_members: Ensemble size M; ``<task>_ensemble_std`` columns only when M > 1.
        uncertainty: The run's calibrated columns
            (:func:`molprop.uncertainty.record.uncertainty_columns`; none without a record).

    Returns:
        Per task the prediction and its spreads, the calibrated columns, then
        ``num_conformers`` and ``error``.
    """
    columns = [c for task in task_names for c in _task_columns(task, num_members)]
    return columns + list(uncertainty) + [NUM_CONFORMERS_COLUMN, ERROR_COLUMN]


def evaluation_columns(
    task_names: Sequence[str], num_members: int = 1, uncertainty: Sequence[str] = ()
) -> list[str]:
    """Columns ``test_predictions.csv`` appends to ``row`` and the input columns.

    Returns:
        Per task ``<task>_true``, the columns of :func:`output_columns` for the task and
        ``<task>_single_conformer``; then the calibrated columns ``uncertainty`` and
        ``num_conformers``.
    """
    columns: list[str] = []
    for task in task_names:
        columns += [target_column(task), *_task_columns(task, num_members)]
        columns.append(task + SINGLE_CONFORMER_SUFFIX)
    return columns + list(uncertainty) + [NUM_CONFORMERS_COLUMN]


def join_inputs(inputs: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
    """Concatenate input and output columns, renaming colliding input columns."""
    clash = {c: f"{c}{INPUT_RENAME_SUFFIX}" for c in inputs.columns if c in out.columns}
    return pd.concat([inputs.rename(columns=clash), out], axis=1)
