"""Conformer ensembles with ETKDGv3 and MMFF/UFF, in parallel, cached and deterministic.

Each molecule is identified by its canonical isomeric SMILES (see
:func:`molprop.chem.molecules.prepare_smiles`). It is re-parsed from that SMILES, so the
atom order of its coordinates does not depend on how the input wrote it, and it is
embedded with a seed derived from the global seed and the SMILES
(:func:`~molprop.chem.molecules.molecule_seed`). Embedding and force-field optimisation
run single-threaded inside each worker, so coordinates are bit-identical whatever the
number of workers or the order of the input.
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from molprop.chem.cache import CachedFailure, ConformerCache, cache_key
from molprop.chem.config import ConformerConfig
from molprop.chem.embed import EmbeddingError, embed_molecule
from molprop.chem.ensemble import ConformerEnsemble

log = logging.getLogger(__name__)


@dataclass
class ConformerResult:
    """Outcome for one input molecule: an ensemble or the reason it failed."""

    smiles: str
    ensemble: ConformerEnsemble | None
    error: str | None = None
    cached: bool = False


def resolve_workers(num_workers: int | None) -> int:
    """Return the number of processes; ``None``/``0``/negative mean all cores."""
    if num_workers is None or int(num_workers) <= 0:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return max(1, os.cpu_count() or 1)
    return int(num_workers)


# ---------------------------------------------------------------- worker side
_WORKER: dict = {}


def _init_worker(cfg: ConformerConfig, cache_dir: str | None) -> None:
    _WORKER["cfg"] = cfg
    _WORKER["cache"] = ConformerCache(cache_dir) if cache_dir else None


def _embed_task(smiles: str) -> tuple[str, ConformerEnsemble | None, str | None]:
    """Embed one molecule and write its cache entry (runs in a worker)."""
    cfg: ConformerConfig = _WORKER["cfg"]
    cache: ConformerCache | None = _WORKER["cache"]
    try:
        ensemble = embed_molecule(smiles, cfg)
    except EmbeddingError as exc:
        if exc.deterministic:
            _save(cache, smiles, cfg, CachedFailure(smiles, str(exc)))
        return smiles, None, str(exc)
    except Exception as exc:  # an RDKit error on one molecule must not stop the run
        return smiles, None, f"embedding failed: {type(exc).__name__}: {exc}"
    _save(cache, smiles, cfg, ensemble)
    return smiles, ensemble, None


def _save(cache: ConformerCache | None, smiles: str, cfg: ConformerConfig, item) -> None:
    """Write a cache entry; a failed write is logged and costs only a later re-embedding."""
    if cache is None:
        return
    try:
        cache.save(cache_key(smiles, cfg.cache_settings()), item)
    except OSError as exc:
        log.warning("Could not write the conformer cache entry of %s (%s)", smiles, exc)


# ---------------------------------------------------------------- driver
def generate_conformers(
    smiles: Sequence[str],
    cfg: ConformerConfig | dict,
    *,
    num_workers: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> list[ConformerResult]:
    """Conformer ensembles for canonical SMILES, from the cache or a process pool.

    Args:
        smiles: Canonical isomeric SMILES (duplicates are embedded once).
        cfg: Conformer settings.
        num_workers: Processes; ``None`` means all cores, 1 runs in this process.
        cache_dir: Cache root (``paths.cache_dir``); ``None`` disables the cache.
        progress: Show a tqdm bar (molecules per second) while embedding.

    Returns:
        One :class:`ConformerResult` per input, in input order.
    """
    if isinstance(cfg, dict):
        cfg = ConformerConfig.from_dict(cfg)
    cache = ConformerCache(cache_dir) if cache_dir else None
    done: dict[str, ConformerResult] = {}
    todo = []
    for smi in dict.fromkeys(smiles):
        hit = cache.load(cache_key(smi, cfg.cache_settings()), smi) if cache else None
        if isinstance(hit, ConformerEnsemble):
            done[smi] = ConformerResult(smi, hit, None, cached=True)
        elif isinstance(hit, CachedFailure):
            done[smi] = ConformerResult(smi, None, hit.reason, cached=True)
        else:
            todo.append(smi)
    if todo:
        for smi, ensemble, error in _run_embedding(todo, cfg, num_workers, cache_dir, progress):
            done[smi] = ConformerResult(smi, ensemble, error, cached=False)
    results = [done[smi] for smi in smiles]
    _log_summary(list(done.values()), cfg, len(todo))
    return results


def _run_embedding(todo, cfg, num_workers, cache_dir, progress):
    """Yield ``(smiles, ensemble, error)`` for every SMILES in ``todo``."""
    workers = min(resolve_workers(num_workers), len(todo))
    cache_arg = str(cache_dir) if cache_dir else None
    bar = tqdm(total=len(todo), unit="mol", desc="conformers", disable=not progress)
    try:
        if workers <= 1:
            _init_worker(cfg, cache_arg)
            for smi in todo:
                yield _embed_task(smi)
                bar.update(1)
            return
        # Largest molecules first (by SMILES length) balances the workers' load at the end.
        order = sorted(todo, key=len, reverse=True)
        chunksize = max(1, min(16, len(order) // (workers * 8)))
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        with ctx.Pool(workers, initializer=_init_worker, initargs=(cfg, cache_arg)) as pool:
            for item in pool.imap_unordered(_embed_task, order, chunksize=chunksize):
                yield item
                bar.update(1)
    finally:
        bar.close()


def _log_summary(results: list[ConformerResult], cfg: ConformerConfig, embedded: int) -> None:
    ok = [r.ensemble for r in results if r.ensemble is not None]
    fewer = sum(1 for e in ok if len(e) < cfg.pool_size)
    failed = sum(1 for r in results if r.ensemble is None)
    log.info(
        "Conformers: %d unique molecules, %d embedded, %d from cache, %d failed, "
        "%d with fewer than K=%d distinct conformers (mean %.2f)",
        len(results),
        embedded,
        len(results) - embedded,
        failed,
        fewer,
        cfg.pool_size,
        float(np.mean([len(e) for e in ok])) if ok else math.nan,
    )
