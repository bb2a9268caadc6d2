"""A loaded training run that bags conformer predictions into the output columns.

The output columns are defined once, in :mod:`molprop.columns` (re-exported here): input
columns first, unchanged; per task ``<task>`` (bagged prediction; a probability for
classification), ``<task>_conformer_std`` and, for an ensemble (M > 1),
``<task>_ensemble_std``; for a run with an uncertainty record (``model.json``
``uncertainty``) the calibrated columns of :mod:`molprop.uncertainty.columns` (``<task>_std``,
``<task>_lower``, ``<task>_upper`` at the chosen coverage, ...); then ``num_conformers`` and
``error``. Conformers are aggregated by :mod:`molprop.bagging` exactly as in validation and
test, and the calibrated columns are computed as for ``test_predictions.csv``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from molprop import artifacts
from molprop.bagging import Aggregated, aggregate_conformers, aggregate_ensemble
from molprop.chem.config import ConformerConfig
from molprop.chem.molecules import MoleculeError, parse_smiles
from molprop.columns import (
    CONFORMER_STD_SUFFIX,
    ENSEMBLE_STD_SUFFIX,
    ERROR_COLUMN,
    NUM_CONFORMERS_COLUMN,
    join_inputs,
    output_columns,
)
from molprop.data.config import BaggingConfig, DataConfig, GraphConfig, conformers_kept
from molprop.data.descriptor_set import DescriptorSet
from molprop.exceptions import InputError
from molprop.inference.checks import blank_non_finite, resolve_device
from molprop.uncertainty import (
    CalibrationSet,
    load_record,
    missing_columns_note,
    parts_from_aggregated,
    uncertainty_columns,
)
from molprop.uncertainty.columns import calibrated_columns
from molprop.uncertainty.domain import fingerprints, load_fingerprints, train_distance

log = logging.getLogger(__name__)


@dataclass
class Predictor:
    """A loaded run: its ensemble members and the settings predict reuses.

    Attributes:
        models: Ensemble members; each has ``predict(batch) -> [B, T]`` in output space.
        spec: The run's :class:`molprop.artifacts.ModelSpec`.
        device: Device the models run on.
        conformers: The run's conformer settings, rebuilt from ``spec.conformers``.
        graph: The run's graph settings, rebuilt from ``spec.graph``.
        bagging: The run's bagging settings, rebuilt from ``spec.bagging``.
        descriptors: The run's molecule descriptors (``spec.descriptors``) or ``None``.
        record: The run's uncertainty calibration (``None`` for a run trained without one;
            the first predicted frame then warns once which columns it cannot give).
        train_fingerprints: Packed training fingerprints (``model/train_fingerprints``)
            when the calibration uses the training-set distance, else ``None``.
    """

    models: list[Any]
    spec: artifacts.ModelSpec
    device: torch.device
    train_fingerprints: np.ndarray | None = None
    conformers: ConformerConfig = dataclasses.field(init=False)
    graph: GraphConfig = dataclasses.field(init=False)
    bagging: BaggingConfig = dataclasses.field(init=False)
    descriptors: DescriptorSet | None = dataclasses.field(init=False)
    record: CalibrationSet | None = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        try:
            self.conformers = ConformerConfig.from_dict(self.spec.conformers)
            self.graph = GraphConfig.from_dict(self.spec.graph)
            self.bagging = BaggingConfig.from_dict(self.spec.bagging)
            self.descriptors = _descriptors(self.spec.descriptors)
            self.record = load_record(self.spec.uncertainty)
        except InputError as err:
            raise artifacts.ArtifactError(
                f"model/model.json holds settings this molprop cannot use: {err}"
            ) from err
        if (
            self.record is not None
            and self.record.uses_distance
            and (self.train_fingerprints is None)
        ):
            raise artifacts.ArtifactError(
                "model/model.json calibrates with the training-set distance but no training "
                "fingerprints were loaded (model/train_fingerprints.safetensors)"
            )
        # said once, with the first predicted rows (a command that fails stays one line)
        self._missing_note = missing_columns_note(self.record, self.spec.task_names, self.spec.task)

    @classmethod
    def from_run_dir(cls, run_dir: str | Path, device: str = "cpu") -> Predictor:
        """Load ``run_dir/model`` (raises ``ArtifactError`` if missing or incompatible)."""
        dev = resolve_device(device)
        models = artifacts.load_model(run_dir, device=dev)
        spec, fingerprints = models[0].spec, None
        if "distance" in ((spec.uncertainty or {}).get("components") or []):
            fingerprints = load_fingerprints(artifacts.RunDir(run_dir).train_fingerprints)
        return cls(models, spec, dev, fingerprints)

    @property
    def columns(self) -> list[str]:
        """Output columns of this run (see :func:`output_columns`)."""
        return output_columns(self.spec.task_names, len(self.models), self.calibrated_names)

    @property
    def calibrated_names(self) -> list[str]:
        """The calibrated columns this run gives (none without a record)."""
        if self.record is None:
            return []
        head = bool(self.spec.variance_head)
        return uncertainty_columns(
            self.spec.task_names, self.spec.task, head, self.record.uses_distance
        )

    def check_coverage(self, coverage: float | None) -> float | None:
        """Validate ``--coverage``; warn when this run cannot use it as asked.

        Raises:
            InputError: For a coverage that is not a number strictly between 0 and 1.
        """
        if coverage is None:
            return None
        ok = isinstance(coverage, (int, float)) and not isinstance(coverage, bool)
        if not ok or not 0.0 < float(coverage) < 1.0:
            raise InputError(
                f"--coverage: received {coverage!r}; expected a number in (0, 1), e.g. 0.9"
            )
        if self.record is None or self.record.task != "regression":
            log.warning("--coverage is ignored: this run gives no regression intervals")
            return float(coverage)
        for cal in self.record.tasks:
            if coverage > cal.max_coverage:
                log.warning(
                    "--coverage %g is above %.3g, the most that task %r's %d calibration "
                    "molecules can guarantee with a finite interval; its bounds are infinite",
                    coverage,
                    cal.max_coverage,
                    cal.task,
                    len(cal.scores),
                )
        return float(coverage)

    def num_conformers(self, override: int | None = None) -> tuple[ConformerConfig, int]:
        """Conformer settings for generation and the K conformers bagged per molecule.

        Without ``override`` the run's settings are replayed: generate
        ``conformers.pool_size`` and keep the first (lowest-energy)
        ``bagging.num_conformers`` (:func:`~molprop.data.config.conformers_kept`), as
        training did. With it, exactly K are generated. The training run's
        ``num_workers`` is not replayed (prediction chooses its own).
        """
        conformers = dataclasses.replace(self.conformers, num_workers=None)
        if override is not None:
            if int(override) < 1:
                raise InputError(f"--num-conformers: received {override}; expected >= 1")
            return dataclasses.replace(conformers, pool_size=int(override)), int(override)
        return conformers, conformers_kept(self.bagging.num_conformers, conformers.pool_size)

    def predict_graphs(self, graphs: Sequence[Sequence[Any]], batch_size: int = 64) -> Aggregated:
        """Bag the conformer predictions of molecules given as lists of ``Data`` graphs.

        Args:
            graphs: ``graphs[i]``: the conformer graphs of molecule ``i`` (may be empty).
            batch_size: Conformer graphs per forward pass.

        Returns:
            :class:`molprop.bagging.Aggregated` over conformers then members, on the CPU;
            its ``mol_idx`` lists the molecules with at least one graph.
        """
        return self.bag_members(graphs, batch_size)[0]

    @torch.no_grad()
    def bag_members(
        self, graphs: Sequence[Sequence[Any]], batch_size: int = 64
    ) -> tuple[Aggregated, list[Aggregated], list[Aggregated] | None]:
        """Like :meth:`predict_graphs`, also returning each member's conformer-bagged outputs.

        Returns:
            ``(ensemble, members, variances)``: the bagged ensemble, one ``Aggregated`` per
            member and, for a variance head, one per member whose ``prediction`` is the
            conformer-mean predicted variance in target units (else ``None``).
        """
        from torch_geometric.data import Batch

        flat = [data for confs in graphs for data in confs]
        mol_idx = torch.tensor(
            [i for i, confs in enumerate(graphs) for _ in confs], dtype=torch.long
        )
        empty = torch.zeros(0, len(self.spec.task_names))
        outputs = [[empty] for _ in self.models]
        variances = [[empty] for _ in self.models]
        for start in range(0, len(flat), batch_size):
            batch = Batch.from_data_list(flat[start : start + batch_size]).to(self.device)
            for m, model in enumerate(self.models):
                if model.variance_head:
                    pred, var = model.predict_with_variance(batch)
                    variances[m].append(var.float().cpu())
                else:
                    pred = model.predict(batch)
                outputs[m].append(pred.float().cpu())
        method = self.bagging.aggregate
        members = [aggregate_conformers(torch.cat(out), mol_idx, method) for out in outputs]
        bagged_var = None
        if all(model.variance_head for model in self.models):
            bagged_var = [aggregate_conformers(torch.cat(v), mol_idx, "mean") for v in variances]
        return aggregate_ensemble(members, self.spec.ensemble_aggregate), members, bagged_var

    def _distance(self, smiles: Sequence[str | None] | None, rows: np.ndarray):
        """Training-set distance of the molecules at ``rows`` of the input (NaN: no SMILES)."""
        if smiles is None:
            return np.full(len(rows), np.nan)
        largest = self.spec.data.get("largest_fragment", DataConfig.largest_fragment)
        mols = [_parse_or_none(smiles[r], largest) for r in rows]
        valid = np.array([m is not None for m in mols], dtype=bool)
        return train_distance(fingerprints(mols), self.train_fingerprints, valid)

    def _calibrated(
        self, bagged, members, variances, coverage, smiles=None
    ) -> dict[str, np.ndarray]:
        """Compute the calibrated columns of the molecules of ``bagged`` (rows: its ``mol_idx``)."""
        if self.record is None or not len(bagged.mol_idx):
            return {name: np.zeros(0) for name in self.calibrated_names}
        parts = None
        if self.record.task == "regression":
            parts = parts_from_aggregated(members, variances)
            if self.record.uses_distance:
                parts = parts.with_distance(self._distance(smiles, bagged.mol_idx.numpy()))
        return calibrated_columns(self.record, bagged.prediction.double().numpy(), parts, coverage)

    def result_frame(
        self,
        inputs: pd.DataFrame,
        graphs,
        errors,
        batch_size: int,
        coverage: float | None = None,
        smiles: Sequence[str | None] | None = None,
    ) -> pd.DataFrame:
        """Input columns plus :attr:`columns`, one row per input row, in input order.

        ``coverage``: of the ``<task>_lower``/``<task>_upper`` intervals (the run's if None).
        ``smiles``: the rows' SMILES, for the training-set distance (NaN columns without).
        """
        n = len(inputs)
        bagged, members, variances = self.bag_members(graphs, batch_size)
        rows = bagged.mol_idx.numpy()
        values: dict[str, Any] = {}
        for suffix, field in (
            ("", bagged.prediction),
            (CONFORMER_STD_SUFFIX, bagged.conformer_std),
            (ENSEMBLE_STD_SUFFIX, bagged.ensemble_std),
        ):
            for t, task in enumerate(self.spec.task_names if field is not None else []):
                column = np.full(n, np.nan)
                column[rows] = field[:, t].double().numpy()
                values[task + suffix] = column
        calibrated = self._calibrated(bagged, members, variances, coverage, smiles)
        for name, field in calibrated.items():
            column = np.full(n, np.nan)
            column[rows] = field
            values[name] = column
        counts = np.zeros(n, dtype=np.int64)
        counts[rows] = bagged.num_conformers.numpy()
        values[NUM_CONFORMERS_COLUMN] = counts
        values[ERROR_COLUMN] = [
            (e or "no conformer graphs could be built") if k == 0 else ""
            for e, k in zip(errors or [None] * n, counts, strict=True)
        ]
        blank_non_finite(values, self.spec.task_names, counts)
        out = pd.DataFrame(values, index=range(n))[self.columns]
        if self._missing_note:
            log.warning(self._missing_note)
            self._missing_note = None
        return join_inputs(inputs.reset_index(drop=True), out)


def _parse_or_none(smiles: str | None, largest_fragment: bool):
    """Parse ``smiles`` as training does; ``None`` when it does not parse."""
    try:
        return parse_smiles(smiles, largest_fragment) if isinstance(smiles, str) else None
    except MoleculeError:
        return None


def _descriptors(state: dict | None) -> DescriptorSet | None:
    """Rebuild the run's descriptors, which need a fitted scaler (``None``: a run without)."""
    if state is None:
        return None
    descriptors = DescriptorSet.from_dict(state)
    if descriptors.scaler is None:
        raise InputError("descriptors.scaler is null; expected the scaler fitted in training")
    return descriptors
