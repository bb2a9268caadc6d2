"""The conformer graphs of a whole input table, and how their processed dataset is keyed.

:func:`build_table_graphs` turns every usable row into its K conformer graphs (generated
and cached conformers for SMILES, the given coordinates for SDF); :func:`dataset_key` names
the settings that make a cached processed dataset reusable; :func:`attach_descriptors` adds
the scaled molecule descriptors to every graph. Used by
:class:`molprop.data.datamodule.MolDataModule`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from molprop.chem.config import ConformerConfig
from molprop.data.config import GraphConfig
from molprop.data.conformer_jobs import build_ensembles, skipped_frame
from molprop.data.dataset import ConformerDataset, file_digest, processed_key
from molprop.data.io import MolTable
from molprop.data.keys import MOL_FEATURES
from molprop.data.pipeline import ensemble_graphs, structure_ensemble
from molprop.exceptions import TooManySkippedError


def dataset_root(cache_dir: str | None, name: str) -> Path | None:
    """Folder of the processed graphs of dataset ``name`` (``None`` without a cache)."""
    if not cache_dir:
        return None
    return Path(cache_dir) / "datasets" / name


def dataset_key(
    path: Path,
    table: MolTable,
    largest_fragment: bool,
    conformers: ConformerConfig,
    num_conformers: int,
    graph: GraphConfig,
) -> str:
    """Key of the processed dataset: the input file and every setting its graphs depend on."""
    return processed_key(
        {
            "file": file_digest(path),
            "rows": len(table),
            "smiles_column": table.smiles_column,
            "targets": table.target_columns,
            "largest_fragment": largest_fragment,
            "conformers": conformers.cache_settings(),
            "num_conformers": num_conformers,
            "graph": graph.as_dict(),
        }
    )


def build_table_graphs(
    table: MolTable,
    conformers: ConformerConfig,
    graph: GraphConfig,
    num_conformers: int,
    *,
    largest_fragment: bool,
    cache_dir: str | None,
    progress: bool,
    source: Path,
) -> tuple[list, dict]:
    """Graphs of every usable row, and metadata (canonical SMILES, errors).

    Args:
        table: The input table (SMILES, or SDF structures with their coordinates).
        conformers: Conformer generation settings (SMILES input).
        graph: Graph construction settings.
        num_conformers: K, graphs kept per molecule.
        largest_fragment: Keep the largest fragment of salts and mixtures.
        cache_dir: Conformer cache (``None``: no cache).
        progress: Show progress bars.
        source: The input file, for the error message.

    Returns:
        ``(graphs, {"canonical": [...], "errors": [...]})`` with one entry per row.

    Raises:
        TooManySkippedError: When no row gives a graph.
    """
    if table.structures is not None:  # SDF: coordinates as given
        canonical = [s or None for s in table.smiles]
        errors = list(table.errors)
        ensembles = [
            None if m is None else structure_ensemble(m, s)
            for m, s in zip(table.structures, table.smiles, strict=True)
        ]
    else:
        ens = build_ensembles(
            table.smiles,
            conformers,
            largest_fragment=largest_fragment,
            cache_dir=cache_dir,
            progress=progress,
        )
        canonical, errors, ensembles = ens.canonical, ens.errors, ens.ensembles
    graphs = []
    rows = tqdm(
        enumerate(ensembles),
        total=len(ensembles),
        desc="graphs",
        unit="mol",
        disable=not progress,
        mininterval=1.0,
    )
    for row, ensemble in rows:
        if ensemble is not None:
            graphs += ensemble_graphs(ensemble, graph, table.targets[row], row, num_conformers)
    if not graphs:  # zero graphs cannot be saved or collated: report the rows instead
        first = skipped_frame(range(len(table)), table.smiles, errors).iloc[0]
        raise TooManySkippedError(
            f"Input file '{source}': none of the {len(table)} molecules could be used; "
            f"first: row {first.row}, SMILES '{first.smiles}': {first.reason}. Fix the input"
        )
    return graphs, {"canonical": canonical, "errors": errors}


def attach_descriptors(dataset: ConformerDataset, scaled: np.ndarray) -> None:
    """Give every graph of ``dataset`` its molecule's row of ``scaled`` as ``mol_x [1, D]``.

    Args:
        dataset: The processed graphs (in place).
        scaled: Scaled descriptors, one row per input row. Shape ``[n_rows, D]``, float32.
    """
    data = dataset._data
    rows = data.mol_idx.view(-1).numpy()
    data[MOL_FEATURES] = torch.from_numpy(scaled[rows])  # [num_graphs, D]
    dataset.slices[MOL_FEATURES] = torch.arange(len(rows) + 1, dtype=torch.long)
    dataset._data_list = None  # graphs fetched before now would lack mol_x
