"""Settings of conformer generation (config group ``conformers``), defined once.

The field defaults below are the defaults: ``conf/conformers/default.yaml`` documents the
same values (a test checks that they agree) and ``python -m molprop.cli.conformers``
derives its option defaults from them, so the command fills the cache that ``train.py``
reads.

:meth:`ConformerConfig.cache_settings` is the part of these settings that enters the
conformer cache key, so its key names and values must stay stable: ``pool_size`` is
written under its former name ``num_conformers``, and cached conformers of earlier runs
still hit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from molprop.config import check_choice, check_int, check_number, from_mapping

OPTIMIZERS = ("mmff", "uff", "none")
#: Former key names of the ``conformers`` group (``model/model.json`` of earlier runs).
RENAMED_KEYS = {"num_conformers": "pool_size"}


@dataclass
class ConformerConfig:
    """Settings of conformer generation (config group ``conformers``).

    Attributes:
        pool_size: Conformers generated per molecule (before pruning); the
            ``bagging.num_conformers`` (K) lowest-energy ones are used. In ``conf/`` it
            follows K unless set.
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
        num_workers: Processes for generation; ``None`` (or ``<= 0``) = all cores. Does
            not change the coordinates (not part of the cache key).
    """

    pool_size: int = 3
    seed: int = 0
    prune_rms: float = 0.5
    max_attempts: int = 5
    optimize: str = "mmff"
    timeout: float | None = 60.0
    max_iters: int = 200
    num_workers: int | None = None

    def __post_init__(self):
        group = "conformers"
        self.pool_size = check_int(group, "pool_size", self.pool_size, 1)
        self.seed = check_int(group, "seed", self.seed)
        self.prune_rms = check_number(group, "prune_rms", self.prune_rms, float("-inf"))
        self.max_attempts = check_int(group, "max_attempts", self.max_attempts, 0)
        self.optimize = check_choice(group, "optimize", self.optimize, OPTIMIZERS)
        self.timeout = check_number(group, "timeout", self.timeout, 0.0, optional=True)
        self.max_iters = check_int(group, "max_iters", self.max_iters, 0)
        self.num_workers = check_int(group, "num_workers", self.num_workers, optional=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> ConformerConfig:
        """Build from a ``conformers`` dict (config or a run's ``model.json``).

        The former key ``num_conformers`` is read as ``pool_size``.

        Raises:
            InputError: For an unknown key or an invalid value, naming it.
        """
        return from_mapping(cls, d, "conformers", RENAMED_KEYS)

    def cache_settings(self) -> dict:
        """Return the settings that change the coordinates (cache key; not ``timeout``)."""
        return {
            "method": "ETKDGv3",
            "num_conformers": self.pool_size,
            "seed": self.seed,
            "prune_rms": self.prune_rms,
            "max_attempts": self.max_attempts,
            "optimize": self.optimize,
            "max_iters": self.max_iters,
        }
