"""SMILES rows -> conformer ensembles, with failures collected instead of raised.

No torch here, so the ``python -m molprop.cli.conformers`` command starts quickly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from molprop.chem.config import ConformerConfig
from molprop.chem.conformers import generate_conformers
from molprop.chem.ensemble import ConformerEnsemble
from molprop.chem.molecules import MoleculeError, prepare_smiles
from molprop.config import coerce
from molprop.exceptions import TooManySkippedError

log = logging.getLogger(__name__)

SKIPPED_COLUMNS = ["row", "smiles", "reason"]


@dataclass
class Ensembles:
    """Per input row: canonical SMILES, ensemble and failure reason (one of them is None)."""

    canonical: list[str | None]
    ensembles: list[ConformerEnsemble | None]
    errors: list[str | None]
    embedded: int = 0

    def __len__(self) -> int:
        return len(self.errors)


def build_ensembles(
    smiles: Sequence[str],
    conformer_cfg: ConformerConfig | dict,
    *,
    largest_fragment: bool = True,
    num_workers: int | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> Ensembles:
    """Parse, standardise and embed every SMILES; failures become reasons, not errors.

    Args:
        smiles: Input SMILES, one per row.
        conformer_cfg: ``conformers`` settings (:class:`ConformerConfig` or its dict).
        largest_fragment: Keep only the largest fragment of each molecule.
        num_workers: Processes for embedding; ``None`` = ``conformers.num_workers``
            (``None`` there: all cores).
        cache_dir: Conformer cache root, or ``None``.
        progress: Show a progress bar.
    """
    conformer_cfg = coerce(ConformerConfig, conformer_cfg)
    if num_workers is None:
        num_workers = conformer_cfg.num_workers
    canonical: list[str | None] = []
    errors: list[str | None] = []
    for smi in smiles:
        try:
            canonical.append(prepare_smiles(smi, largest_fragment))
            errors.append(None)
        except MoleculeError as exc:
            canonical.append(None)
            errors.append(str(exc))
    valid = [c for c in canonical if c is not None]
    results = iter(
        generate_conformers(
            valid, conformer_cfg, num_workers=num_workers, cache_dir=cache_dir, progress=progress
        )
    )
    ensembles: list[ConformerEnsemble | None] = []
    embedded = 0
    for i, can in enumerate(canonical):
        if can is None:
            ensembles.append(None)
            continue
        result = next(results)
        embedded += not result.cached
        ensembles.append(result.ensemble)
        errors[i] = result.error
    return Ensembles(canonical, ensembles, errors, embedded)


def skipped_frame(rows: Sequence[int], smiles: Sequence[str], errors: Sequence[str | None]):
    """DataFrame ``(row, smiles, reason)`` of the failed rows."""
    data = [(int(r), s, e) for r, s, e in zip(rows, smiles, errors, strict=True) if e is not None]
    return pd.DataFrame(data, columns=SKIPPED_COLUMNS)


def check_skipped(skipped: pd.DataFrame, total: int, max_fraction: float, source: str) -> None:
    """Raise when more than ``max_fraction`` of ``total`` molecules were skipped.

    Args:
        skipped: The skipped rows (see :func:`skipped_frame`).
        total: Number of input molecules.
        max_fraction: ``data.max_skipped_fraction``.
        source: What was read (file name), for the message.
    """
    if total == 0 or len(skipped) == 0:
        return
    for row in skipped.head(20).itertuples(index=False):
        log.warning("Skipped row %d (%s): %s", row.row, row.smiles, row.reason)
    fraction = len(skipped) / total
    log.warning(
        "%s: skipped %d of %d molecules (%.1f%%)", source, len(skipped), total, 100 * fraction
    )
    if fraction > float(max_fraction):
        first = skipped.iloc[0]
        raise TooManySkippedError(
            f"Input file '{source}': {len(skipped)} of {total} molecules ({fraction:.1%}) could "
            f"not be used, more than data.max_skipped_fraction={float(max_fraction):g}; first: "
            f"row {first.row}, SMILES '{first.smiles}': {first.reason}. Fix the input or raise "
            "data.max_skipped_fraction"
        )


def run_conformer_job(
    input_path: str | Path,
    conformer_cfg: ConformerConfig,
    *,
    smiles_column: str | None = None,
    num_workers: int | None = None,
    cache_dir: str | Path | None = None,
    out: str | Path | None = None,
    skipped_path: str | Path | None = None,
    largest_fragment: bool = True,
    progress: bool = True,
) -> dict:
    """Fill the conformer cache for a SMILES CSV (the ``molprop.cli.conformers`` command).

    Failed rows are skipped and listed in ``skipped_path`` (default ``<out>.skipped.csv``
    next to ``out``, when there are failures and ``out`` is given).

    Returns:
        Summary ``{"molecules", "conformers", "failures", "seconds", "embedded"}``.
    """
    from molprop.chem.sdf_writer import write_ensembles_sdf
    from molprop.data.io import read_table

    start = time.perf_counter()
    table = read_table(input_path, smiles_column, require_targets=False)
    ens = build_ensembles(
        table.smiles,
        conformer_cfg,
        largest_fragment=largest_fragment,
        num_workers=num_workers,
        cache_dir=cache_dir,
        progress=progress,
    )
    pairs = [(row, e) for row, e in enumerate(ens.ensembles) if e is not None]
    if out:
        write_ensembles_sdf(out, pairs)
    skipped = skipped_frame(range(len(table)), table.smiles, ens.errors)
    if skipped_path is None and out and len(skipped):
        skipped_path = Path(out).with_suffix(".skipped.csv")
    if skipped_path:
        skipped.to_csv(skipped_path, index=False)
    return {
        "molecules": len(table),
        "conformers": int(sum(len(e) for _, e in pairs)),
        "failures": len(skipped),
        "seconds": round(time.perf_counter() - start, 3),
        "embedded": ens.embedded,
        "skipped": skipped,
    }
