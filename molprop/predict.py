"""Prediction from a trained run: SMILES or SDF in, one CSV row per input row out.

This module defines the output columns (the one place that does) and streams large
inputs chunk by chunk, so memory stays flat however many rows the input has:

* input columns, unchanged and in input order (an input column whose name collides
  with an output column is renamed ``<name>_input``);
* per task: ``<task>`` (bagged prediction; a probability for classification),
  ``<task>_conformer_std`` and, for an ensemble (M > 1), ``<task>_ensemble_std``;
* ``num_conformers`` (conformers the prediction was bagged over; 0 for failed rows);
* ``error``: empty, or why the row could not be predicted (its predictions are empty).

Conformers are aggregated by :mod:`molprop.bagging` exactly as in validation and test.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from molprop import artifacts
from molprop.bagging import Aggregated, aggregate_conformers, aggregate_ensemble
from molprop.data.io import SDF_SUFFIXES
from molprop.exceptions import InputError
from molprop.predict_inputs import (
    DEFAULT_CHUNK_SIZE,
    count_rows,
    iter_smiles_chunks,
    pick_smiles_column,
    read_csv_strings,
)

log = logging.getLogger(__name__)

CONFORMER_STD_SUFFIX = "_conformer_std"
ENSEMBLE_STD_SUFFIX = "_ensemble_std"
NUM_CONFORMERS_COLUMN = "num_conformers"
ERROR_COLUMN = "error"
INPUT_RENAME_SUFFIX = "_input"


def output_columns(task_names: Sequence[str], num_members: int = 1) -> list[str]:
    """Names of the columns predict appends to the input columns, in output order.

    Args:
        task_names: Task names of the run.
        num_members: Ensemble size M; ``<task>_ensemble_std`` columns only when M > 1.

    Returns:
        Column names: per task the prediction and its spreads, then ``num_conformers`` and
        ``error``.
    """
    columns: list[str] = []
    for task in task_names:
        columns += [task, task + CONFORMER_STD_SUFFIX]
        if num_members > 1:
            columns.append(task + ENSEMBLE_STD_SUFFIX)
    return columns + [NUM_CONFORMERS_COLUMN, ERROR_COLUMN]


@dataclass
class Predictor:
    """A loaded run: its ensemble members and the settings predict reuses.

    Attributes:
        models: Ensemble members; each has ``predict(batch) -> [B, T]`` in output space.
        spec: The run's :class:`molprop.artifacts.ModelSpec`.
        device: Device the models run on.
    """

    models: list[Any]
    spec: Any
    device: torch.device

    @classmethod
    def from_run_dir(cls, run_dir: str | Path, device: str = "cpu") -> Predictor:
        """Load ``run_dir/model`` (raises ``ArtifactError`` if missing or incompatible)."""
        models = artifacts.load_model(run_dir, device=device)
        return cls(models, models[0].spec, torch.device(device))

    @property
    def columns(self) -> list[str]:
        """Output columns of this run (see :func:`output_columns`)."""
        return output_columns(self.spec.task_names, len(self.models))

    def num_conformers(self, override: int | None = None) -> tuple[dict[str, Any], int]:
        """Conformer settings for generation and the K conformers bagged per molecule.

        Without ``override`` the run's settings are replayed: generate
        ``conformers.num_conformers`` and keep the first (lowest-energy)
        ``bagging.num_conformers``, as training did. With it, exactly K are generated.
        """
        conformers = {k: v for k, v in self.spec.conformers.items() if k != "num_workers"}
        if override is not None:
            if int(override) < 1:
                raise InputError(f"--num-conformers: received {override}; expected >= 1")
            conformers["num_conformers"] = int(override)
            return conformers, int(override)
        generated = int(conformers.get("num_conformers", 10))
        keep = self.spec.bagging.get("num_conformers") or generated
        return conformers, min(int(keep), generated)

    @torch.no_grad()
    def predict_graphs(self, graphs: Sequence[Sequence[Any]], batch_size: int = 64) -> Aggregated:
        """Bag the conformer predictions of molecules given as lists of ``Data`` graphs.

        Args:
            graphs: ``graphs[i]``: the conformer graphs of molecule ``i`` (may be empty).
            batch_size: Conformer graphs per forward pass.

        Returns:
            :class:`molprop.bagging.Aggregated` over conformers then members, on the CPU;
            its ``mol_idx`` lists the molecules with at least one graph.
        """
        from torch_geometric.data import Batch

        flat = [data for confs in graphs for data in confs]
        mol_idx = torch.tensor(
            [i for i, confs in enumerate(graphs) for _ in confs], dtype=torch.long
        )
        outputs: list[list[torch.Tensor]] = [
            [torch.zeros(0, len(self.spec.task_names))] for _ in self.models
        ]
        for start in range(0, len(flat), batch_size):
            batch = Batch.from_data_list(flat[start : start + batch_size]).to(self.device)
            for m, model in enumerate(self.models):
                outputs[m].append(model.predict(batch).float().cpu())
        method = self.spec.bagging.get("aggregate", "mean")
        members = [aggregate_conformers(torch.cat(out), mol_idx, method) for out in outputs]
        return aggregate_ensemble(members, self.spec.ensemble_aggregate)

    def result_frame(self, inputs: pd.DataFrame, graphs, errors, batch_size: int) -> pd.DataFrame:
        """Input columns plus :attr:`columns`, one row per input row, in input order."""
        n = len(inputs)
        bagged = self.predict_graphs(graphs, batch_size)
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
        counts = np.zeros(n, dtype=np.int64)
        counts[rows] = bagged.num_conformers.numpy()
        values[NUM_CONFORMERS_COLUMN] = counts
        values[ERROR_COLUMN] = [
            (e or "no conformer graphs could be built") if k == 0 else ""
            for e, k in zip(errors or [None] * n, counts, strict=True)
        ]
        out = pd.DataFrame(values, index=range(n))[self.columns]
        return _join_inputs(inputs.reset_index(drop=True), out)


def _join_inputs(inputs: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
    """Concatenate input and output columns, renaming colliding input columns."""
    clash = {c: f"{c}{INPUT_RENAME_SUFFIX}" for c in inputs.columns if c in out.columns}
    return pd.concat([inputs.rename(columns=clash), out], axis=1)


def _smiles_frames(
    predictor: Predictor,
    chunks,
    column: str,
    conformers: dict,
    keep: int,
    *,
    batch_size: int,
    workers: int | None,
    cache_dir: str | None,
    bar: tqdm,
) -> Iterator[pd.DataFrame]:
    """Generate conformers, featurise and predict one chunk of SMILES rows at a time."""
    from molprop.data.pipeline import smiles_to_graphs

    largest = predictor.spec.data.get("largest_fragment", True)
    for frame in chunks:
        values = frame[column].tolist()
        if not values:
            yield predictor.result_frame(frame, [], [], batch_size)
            continue
        graphs, errors = smiles_to_graphs(
            values,
            conformers,
            predictor.spec.graph,
            num_workers=workers,
            cache_dir=cache_dir,
            largest_fragment=largest,
            max_conformers=keep,
            progress=False,
        )
        yield predictor.result_frame(frame, graphs, errors, batch_size)
        bar.update(len(frame))


def _sdf_frames(
    predictor: Predictor, path: Path, *, batch_size: int, bar: tqdm
) -> Iterator[pd.DataFrame]:
    """Predict an SDF with its coordinates as given (records sharing _Name: one molecule)."""
    from molprop.data.pipeline import sdf_to_graphs

    records, graphs, errors = sdf_to_graphs(str(path), predictor.spec.graph)
    bar.total = len(records)
    yield predictor.result_frame(records, graphs, errors, batch_size)
    bar.update(len(records))


def iter_predictions(
    run_dir: str | Path | Predictor,
    smiles: Sequence[str] | None = None,
    input_path: str | Path | None = None,
    *,
    smiles_column: str | None = None,
    num_conformers: int | None = None,
    batch_size: int = 64,
    workers: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    device: str = "cpu",
    cache_dir: str | None = None,
    progress: bool = False,
) -> Iterator[pd.DataFrame]:
    """Stream predictions as one DataFrame per input chunk (see the module docstring).

    The run is loaded and the arguments are checked when this is called; conformers are
    generated and predicted lazily, chunk by chunk, as the iterator is consumed.

    Args:
        run_dir: Training run directory (or an already loaded :class:`Predictor`).
        smiles: SMILES strings to predict (exclusive with ``input_path``).
        input_path: A CSV with a SMILES column, or an SDF (``.sdf``/``.sd``/``.mol``).
        smiles_column: CSV column holding SMILES; default the run's, then ``smiles``.
        num_conformers: K conformers per SMILES; default the run's settings. Ignored for SDF.
        batch_size: Conformer graphs per forward pass.
        workers: Processes for conformer generation (``None``: all cores).
        chunk_size: Input rows per chunk.
        device: Torch device of the models.
        cache_dir: Conformer cache folder (``None``: no cache).
        progress: Show a tqdm progress bar on stderr.

    Returns:
        An iterator of DataFrames: input columns plus :func:`output_columns`, one row per
        input row, in input order.

    Raises:
        molprop.exceptions.MolpropError: Missing/incompatible run directory or bad input.
    """
    if (smiles is None) == (input_path is None):
        raise InputError("predict: give exactly one of --smiles or --input")
    smiles = [smiles] if isinstance(smiles, str) else smiles
    if int(batch_size) < 1 or int(chunk_size) < 1:
        raise InputError(
            f"predict: --batch-size {batch_size} and --chunk-size {chunk_size}: "
            "expected integers >= 1"
        )
    path = None if input_path is None else Path(input_path)
    if path is not None and not path.is_file():
        raise InputError(f"--input '{path}': file not found; expected a CSV or SDF file")
    predictor = (
        run_dir if isinstance(run_dir, Predictor) else Predictor.from_run_dir(run_dir, device)
    )
    if path is not None and path.suffix.lower() in SDF_SUFFIXES:
        if num_conformers is not None:
            log.warning("--num-conformers is ignored for SDF input (coordinates as given)")
        bar = tqdm(unit="mol", desc="predict", file=sys.stderr, disable=not progress)
        return _closing(_sdf_frames(predictor, path, batch_size=batch_size, bar=bar), bar)
    column = "smiles"
    if path is not None:
        column = pick_smiles_column(
            list(read_csv_strings(path, nrows=0).columns),
            smiles_column,
            predictor.spec.data.get("smiles_column"),
            f"--input '{path}'",
        )
    conformers, keep = predictor.num_conformers(num_conformers)
    bar = tqdm(
        total=len(smiles) if path is None else count_rows(path),
        unit="mol",
        desc="predict",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    )
    frames = _smiles_frames(
        predictor,
        iter_smiles_chunks(smiles, path, chunk_size),
        column,
        conformers,
        keep,
        batch_size=batch_size,
        workers=workers,
        cache_dir=cache_dir,
        bar=bar,
    )
    return _closing(frames, bar)


def _closing(frames: Iterator[pd.DataFrame], bar: tqdm) -> Iterator[pd.DataFrame]:
    """Yield from ``frames`` and close the progress bar at the end."""
    with bar:
        yield from frames


def write_predictions(frames: Iterator[pd.DataFrame], handle: TextIO) -> int:
    """Write streamed prediction frames as one CSV (header once); returns rows written."""
    rows = 0
    for i, frame in enumerate(frames):
        frame.to_csv(handle, header=i == 0, index=False, float_format="%.7g")
        handle.flush()
        rows += len(frame)
    return rows


def predict(
    run_dir: str | Path | Predictor,
    smiles: Sequence[str] | None = None,
    input_path: str | Path | None = None,
    output: str | Path | None = None,
    **kwargs: Any,
) -> pd.DataFrame | int:
    """Predict SMILES or a CSV/SDF file with a trained run.

    Args:
        run_dir: Training run directory (or a loaded :class:`Predictor`).
        smiles: SMILES strings (exclusive with ``input_path``).
        input_path: CSV or SDF file.
        output: CSV path to stream the result to. ``None``: return it as a DataFrame
            (which holds all rows in memory; use ``output`` for large inputs).
        **kwargs: Passed to :func:`iter_predictions`.

    Returns:
        The predictions DataFrame, or the number of rows written when ``output`` is given.
    """
    frames = iter_predictions(run_dir, smiles, input_path, **kwargs)
    if output is None:
        return pd.concat(list(frames), ignore_index=True)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    try:
        with partial.open("w", newline="") as handle:
            rows = write_predictions(frames, handle)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return rows
