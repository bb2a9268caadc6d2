"""Self-supervised pretraining: ``molprop pretrain [overrides]``.

Pretraining is ordinary training (:func:`molprop.train.run.train`, resume via ``ckpt_path``,
``last.ckpt`` every epoch) on a table built from a SMILES corpus:

1. :func:`build_pretrain_table` takes the first ``pretrain.size`` molecules of
   ``pretrain.corpus`` (written by :func:`molprop.data.corpus.build_corpus`, so every
   labelled benchmark molecule is already removed) and writes ``smiles`` plus the RDKit 2D
   descriptors clipped and standardised by :class:`~molprop.data.descriptors.DescriptorScaler`
   (217 regression targets with RDKit 2024/2025) to ``pretrain.table``.
2. ``conf/experiment/pretrain.yaml`` trains the backbone on that table as multi-task
   regression from the pooled invariant embedding, plus coordinate denoising
   (``model.denoise``, :mod:`molprop.lit.denoise`) from the degree-1 features.

The run's ``model/`` is what ``model.init_from`` fine-tunes from.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from molprop.atomic import write_text_atomic
from molprop.data.descriptors import DescriptorScaler, compute_rdkit2d, rdkit2d_names
from molprop.exceptions import InputError

log = logging.getLogger(__name__)


def build_pretrain_table(
    corpus: str | Path,
    out: str | Path,
    size: int | None = None,
    cache_dir: str | Path | None = None,
    smiles_column: str = "smiles",
) -> Path:
    """Write the pretraining table: SMILES and scaled RDKit 2D descriptor targets.

    Args:
        corpus: Corpus CSV with a ``smiles_column`` column (canonical SMILES).
        out: Output CSV; a ``<out>.scaler.json`` with the descriptor scaler goes next to it.
        size: Use the first ``size`` corpus rows (``None``: all).
        cache_dir: Descriptor cache root (:func:`compute_rdkit2d`).
        smiles_column: SMILES column of ``corpus``.

    Returns:
        ``out``: columns ``smiles`` then one per descriptor, ``[size, 1 + D]``.

    Raises:
        InputError: A missing corpus or column, or a non-positive ``size``.
    """
    corpus, out = Path(corpus), Path(out)
    if size is not None and int(size) < 1:
        raise InputError(f"pretrain.size: received {size}; expected a positive row count or null")
    try:
        frame = pd.read_csv(corpus, dtype=str, nrows=None if size is None else int(size))
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"pretrain.corpus '{corpus}' cannot be read: {exc}") from None
    if smiles_column not in frame.columns:
        raise InputError(
            f"pretrain.corpus '{corpus}': no '{smiles_column}' column; the file has the "
            f"columns {list(frame.columns)}"
        )
    smiles = frame[smiles_column].fillna("").tolist()
    names = rdkit2d_names()
    values = compute_rdkit2d(smiles, names, cache_dir=cache_dir)
    scaler = DescriptorScaler.fit(values)
    table = pd.DataFrame(scaler.transform(values), columns=names)
    table.insert(0, "smiles", smiles)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp")
    table.to_csv(tmp, index=False, float_format="%.6g")
    tmp.replace(out)
    write_text_atomic(
        out.with_name(f"{out.stem}.scaler.json"),
        json.dumps({"names": names, **scaler.to_dict()}),
    )
    log.info("pretraining table %s: %d molecules x %d descriptors", out, len(table), len(names))
    return out


def ensure_table(cfg) -> Path:
    """Build ``pretrain.table`` of a composed config when it does not exist yet.

    Args:
        cfg: Composed ``conf/train.yaml`` with ``experiment=pretrain`` (``pretrain`` node).

    Returns:
        The table path.

    Raises:
        InputError: When the config has no ``pretrain`` node, or the corpus is unreadable.
    """
    node = cfg.get("pretrain")
    if node is None:
        raise InputError(
            "molprop pretrain: the config has no 'pretrain' node; expected "
            "experiment=pretrain (pretrain.corpus, pretrain.size, pretrain.table)"
        )
    table = Path(str(node.table))
    if not table.is_file():
        size = None if node.size is None else int(node.size)
        build_pretrain_table(node.corpus, table, size, cache_dir=cfg.paths.cache_dir)
    return table
