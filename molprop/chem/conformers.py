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
from molprop.chem.embed import EmbeddingError, embed_molecule
from molprop.chem.ensemble import ConformerEnsemble
from molprop.exceptions import InputError

log = logging.getLogger(__name__)

OPTIMIZERS = ("mmff", "uff", "none")


@dataclass
class ConformerConfig:
    """Settings of conformer generation (config group ``conformers``).

    Attributes:
        num_conformers: K, conformers requested per molecule.
        seed: Global seed; each molecule's seed also depends on its canonical SMILES.
        prune_rms: Heavy-atom RMSD (Angstrom) below which two conformers count as the
            same; applied by ETKDG and again after optimisation. ``<= 0`` disables it.
        max_attempts: ETKDG attempts per conformer (``EmbedParameters.maxIterations``);
            0 means RDKit's default (10x the number of atoms).
        optimize: ``mmff`` (falls back to UFF without MMFF parameters), ``uff`` or ``none``.
        timeout: Seconds allowed for embedding one molecule (``EmbedParameters.timeout``,
            plus a wall-clock check before optimising); ``0`` or ``None`` disables it.
            A timed-out molecule is skipped and not cached.
        max_iters: Force-field iterations per conformer.
    """

    num_conformers: int = 10
    seed: int = 0
    prune_rms: float = 0.5
    max_attempts: int = 0
    optimize: str = "mmff"
    timeout: float | None = 60.0
    max_iters: int = 200

    def __post_init__(self):
        self.optimize = str(self.optimize).lower()
        if self.optimize not in OPTIMIZERS:
            raise InputError(
                f"conformers.optimize: received '{self.optimize}'; expected one of {OPTIMIZERS}"
            )
        if int(self.num_conformers) < 1:
            raise InputError(
                f"conformers.num_conformers: received {self.num_conformers}; "
                "expected an integer >= 1"
            )
        for name in ("max_attempts", "max_iters"):
            if int(getattr(self, name)) < 0:
                raise InputError(
                    f"conformers.{name}: received {getattr(self, name)}; expected an integer >= 0"
                )
        self.num_conformers = int(self.num_conformers)
        self.seed = int(self.seed)
        self.prune_rms = float(self.prune_rms or 0.0)
        self.max_attempts = int(self.max_attempts)
        self.max_iters = int(self.max_iters)

    @classmethod
    def from_dict(cls, d: dict | None) -> ConformerConfig:
        """Build from a config dict, ignoring unknown keys (e.g. ``num_workers``)."""
        d = dict(d or {})
        names = set(cls.__dataclass_fields__)
        kwargs = {k: v for k, v in d.items() if k in names and v is not None}
        if "timeout" in d and d["timeout"] is None:
            kwargs["timeout"] = None
        return cls(**kwargs)

    def cache_settings(self) -> dict:
        """Return the settings that change the coordinates (cache key; not ``timeout``)."""
        return {
            "method": "ETKDGv3",
            "num_conformers": self.num_conformers,
            "seed": self.seed,
            "prune_rms": self.prune_rms,
            "max_attempts": self.max_attempts,
            "optimize": self.optimize,
            "max_iters": self.max_iters,
        }


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
    fewer = sum(1 for e in ok if len(e) < cfg.num_conformers)
    failed = sum(1 for r in results if r.ensemble is None)
    log.info(
        "Conformers: %d unique molecules, %d embedded, %d from cache, %d failed, "
        "%d with fewer than K=%d distinct conformers (mean %.2f)",
        len(results),
        embedded,
        len(results) - embedded,
        failed,
        fewer,
        cfg.num_conformers,
        float(np.mean([len(e) for e in ok])) if ok else math.nan,
    )
