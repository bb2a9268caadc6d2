"""Settings of conformer generation (config group ``conformers``), defined once.

:meth:`ConformerConfig.cache_settings` is the part of these settings that enters the
conformer cache key, so its field names and values must stay stable.
"""

from __future__ import annotations

from dataclasses import dataclass

from molprop.exceptions import InputError

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
