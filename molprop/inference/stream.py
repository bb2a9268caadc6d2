"""Prediction from a trained run: SMILES or SDF in, one CSV row per input row out.

Large inputs are streamed chunk by chunk, so memory stays flat however many rows the input
has. Each output row holds the input columns, unchanged and in input order, then the output
columns of :mod:`molprop.inference.predictor` (bagged predictions, conformer and ensemble spreads,
the calibrated ``<task>_std``/``<task>_lower``/``<task>_upper`` where the run has a
calibration, ``num_conformers``, ``error``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
from tqdm.auto import tqdm

from molprop.data.config import DataConfig
from molprop.data.io import SDF_SUFFIXES
from molprop.exceptions import InputError
from molprop.inference.checks import check_descriptor_inputs
from molprop.inference.predictor import Predictor
from molprop.inference.readers import (
    DEFAULT_CHUNK_SIZE,
    check_csv,
    csv_header,
    iter_smiles_chunks,
    pick_smiles_column,
)

log = logging.getLogger(__name__)


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
    coverage: float | None,
    bar: tqdm,
) -> Iterator[pd.DataFrame]:
    """Generate conformers, featurise and predict one chunk of SMILES rows at a time."""
    from molprop.data.pipeline import smiles_to_graphs

    largest = predictor.spec.data.get("largest_fragment", DataConfig.largest_fragment)
    descriptors, first_row = predictor.descriptors, 0
    for frame in chunks:
        values = frame[column].tolist()
        if not values:
            yield predictor.result_frame(frame, [], [], batch_size, coverage)
            continue
        user = None
        if descriptors is not None:
            user = descriptors.user_values(frame, "--input", first_row)
        first_row += len(frame)
        graphs, errors = smiles_to_graphs(
            values,
            conformers,
            predictor.graph,
            num_workers=workers,
            cache_dir=cache_dir,
            largest_fragment=largest,
            max_conformers=keep,
            progress=False,
            descriptors=descriptors,
            user_descriptors=user,
        )
        yield predictor.result_frame(frame, graphs, errors, batch_size, coverage, values)
        bar.update(len(frame))


def _sdf_frames(
    predictor: Predictor, path: Path, *, batch_size: int, coverage: float | None, bar: tqdm
) -> Iterator[pd.DataFrame]:
    """Predict an SDF with its coordinates as given (records sharing _Name: one molecule)."""
    from molprop.data.pipeline import sdf_to_graphs

    records, graphs, errors = sdf_to_graphs(
        str(path), predictor.graph, descriptors=predictor.descriptors
    )
    bar.total = len(records)
    smiles = records["smiles"].tolist() if "smiles" in records else None
    yield predictor.result_frame(records, graphs, errors, batch_size, coverage, smiles)
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
    coverage: float | None = None,
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
        coverage: Coverage of the ``<task>_lower``/``<task>_upper`` intervals, in (0, 1);
            ``None``: the run's (``uncertainty.coverage`` of training).

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
    coverage = predictor.check_coverage(coverage)
    if path is not None and path.suffix.lower() in SDF_SUFFIXES:
        if num_conformers is not None:
            log.warning("--num-conformers is ignored for SDF input (coordinates as given)")
        bar = tqdm(unit="mol", desc="predict", file=sys.stderr, disable=not progress)
        frames = _sdf_frames(predictor, path, batch_size=batch_size, coverage=coverage, bar=bar)
        return _closing(frames, bar)
    column = "smiles"
    header = None if path is None else csv_header(path)
    source = "--smiles" if path is None else f"--input '{path}'"
    check_descriptor_inputs(predictor.descriptors, header, source)
    if path is not None:
        column = pick_smiles_column(
            header, smiles_column, predictor.spec.data.get("smiles_column"), source
        )
    conformers, keep = predictor.num_conformers(num_conformers)
    bar = tqdm(
        total=len(smiles) if path is None else check_csv(path),
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
        coverage=coverage,
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
