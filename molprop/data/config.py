"""Typed settings of the config groups ``data``, ``features``, ``graph`` and ``bagging``.

Built from plain dicts at the boundary (``molprop.train.run`` from Hydra, the predictor
from ``model/model.json``) and passed down; the field defaults are the only defaults
(``conf/<group>/`` documents the same values, a test checks that they agree). The
conformer settings are :class:`molprop.chem.config.ConformerConfig`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from molprop.bagging import AGGREGATE_METHODS
from molprop.chem.config import ConformerConfig
from molprop.config import check_choice, check_int, check_number, from_mapping
from molprop.data.splits import METHODS
from molprop.data.tables import TASKS
from molprop.exceptions import InputError

#: Built-in datasets (``data.builtin``; built by :mod:`molprop.data.sources`).
BUILTINS = ("chembl_freewilson",)
#: Settings a builtin dataset implies when the config leaves them unset.
BUILTIN_DEFAULTS = {
    "chembl_freewilson": {"smiles_column": "smiles", "target_columns": ["activity"]},
}
#: ``graph.hydrogens``: every hydrogen a node, or heavy atoms only.
HYDROGEN_MODES = ("explicit", "implicit")
#: ``bagging.train_sampling``: one random conformer per molecule per epoch, or all of them.
TRAIN_SAMPLING = ("sample", "all")


def conformers_kept(k: int, pool_size: int) -> int:
    """Conformers bagged per molecule: the K lowest-energy ones of the generated pool.

    The one rule shared by training (the datamodule) and prediction (the predictor):
    ``min(bagging.num_conformers, conformers.pool_size)``. Pruning may leave a molecule
    with fewer; it then uses all it has.
    """
    return min(int(k), int(pool_size))


def _optional_str(group: str, name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list, tuple, bool)):
        raise InputError(f"{group}.{name}: received {value!r}; expected a string or null")
    return str(value)


@dataclass
class DataConfig:
    """Settings of the input data (config group ``data``; see ``conf/data/csv.yaml``).

    Attributes:
        name: Dataset name (folder of its processed graphs in the cache); ``None``: the
            input file name.
        builtin: Built-in dataset (``chembl_freewilson``) or ``None`` for ``path``.
        path: Input CSV or SDF.
        url: Optional download of ``path`` when it is missing.
        sha256: Expected SHA-256 of the download.
        smiles_column: SMILES column (``None``: ``smiles``, else the first column).
        target_columns: Target columns; ``None``: every other numeric column.
        task: ``regression``, ``classification`` or ``None`` (inferred from the targets).
        largest_fragment: Keep the largest fragment of salts and mixtures.
        max_skipped_fraction: Stop when more than this fraction of rows is unusable.
        split: ``random``, ``scaffold``, ``column`` or ``file``.
        split_file: JSON of row indices (``split=file``).
        split_key: Entry of ``split_file`` to use.
        split_column: Column holding train/val/test (``split=column``).
        split_sizes: Train, val and test fractions (``random``/``scaffold``).
        split_seed: Seed of the random and scaffold splits.
        limit: Use only the first N rows; ``None`` = all.
        descriptor_columns: User molecule descriptors: numeric columns of the input file
            (never default targets); blank cells are missing values (scaled to 0).
        descriptors_path: User molecule descriptors from a separate CSV, one row per input
            row in the same order; every column is a descriptor.
    """

    name: str | None = None
    builtin: str | None = None
    path: str | None = None
    url: str | None = None
    sha256: str | None = None
    smiles_column: str | None = "smiles"
    target_columns: list[str] | None = None
    task: str | None = None
    largest_fragment: bool = True
    max_skipped_fraction: float = 0.1
    split: str = "random"
    split_file: str | None = None
    split_key: str | None = None
    split_column: str | None = None
    split_sizes: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_seed: int = 0
    limit: int | None = None
    descriptor_columns: list[str] | None = None
    descriptors_path: str | None = None

    def __post_init__(self):
        g = "data"
        for name in ("name", "path", "url", "sha256", "smiles_column"):
            setattr(self, name, _optional_str(g, name, getattr(self, name)))
        for name in ("split_file", "split_key", "split_column", "descriptors_path"):
            setattr(self, name, _optional_str(g, name, getattr(self, name)))
        if self.builtin is not None:
            self.builtin = check_choice(g, "builtin", self.builtin, BUILTINS)
            # a builtin dataset implies its columns unless the config names them
            for key, value in BUILTIN_DEFAULTS[self.builtin].items():
                if getattr(self, key) is None:
                    setattr(self, key, value)
        if self.task is not None:
            self.task = check_choice(g, "task", self.task, TASKS)
        self.target_columns = _columns(self.target_columns)
        self.descriptor_columns = _columns(self.descriptor_columns, "descriptor_columns")
        both = sorted(set(self.target_columns or []) & set(self.descriptor_columns or []))
        if both:
            raise InputError(
                f"data.descriptor_columns: {both} are also in data.target_columns; expected "
                "each column to be either a target or a descriptor"
            )
        if not isinstance(self.largest_fragment, bool):
            raise InputError(
                f"data.largest_fragment: received {self.largest_fragment!r}; expected true or false"
            )
        self.max_skipped_fraction = check_number(
            g, "max_skipped_fraction", self.max_skipped_fraction, 0.0, 1.0
        )
        self.split = check_choice(g, "split", self.split, METHODS)
        self.split_sizes = _sizes(self.split_sizes)
        self.split_seed = check_int(g, "split_seed", self.split_seed)
        self.limit = check_int(g, "limit", self.limit, 1, optional=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> DataConfig:
        """Build from a ``data`` dict; ``InputError`` for an unknown key or bad value."""
        return from_mapping(cls, d, "data")


def _columns(value: Any, name: str = "target_columns") -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(c, str) for c in value):
        raise InputError(
            f"data.{name}: received {value!r}; expected a list of column names or null"
        )
    return list(value)


def _sizes(value: Any) -> tuple[float, float, float]:
    ok = not isinstance(value, (str, Mapping)) and len(value) == 3
    if ok:
        ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in value)
    if not ok:
        raise InputError(
            f"data.split_sizes: received {value!r}; expected three fractions >= 0 "
            "(train, val, test)"
        )
    return tuple(float(v) for v in value)


@dataclass
class FeaturesConfig:
    """Molecule-level descriptors computed by molprop (config group ``features``).

    The descriptors (these plus the user ones of ``data.descriptor_columns`` and
    ``data.descriptors_path``) are scaled on the training molecules and concatenated to
    the pooled embedding before the head (:class:`molprop.model.PropertyModel`).

    Attributes:
        rdkit2d: RDKit 2D descriptors of every molecule (``features=rdkit2d``; see
            :mod:`molprop.data.descriptors`).
    """

    rdkit2d: bool = False

    def __post_init__(self):
        if not isinstance(self.rdkit2d, bool):
            raise InputError(f"features.rdkit2d: received {self.rdkit2d!r}; expected true or false")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> FeaturesConfig:
        """Build from a ``features`` dict; ``InputError`` for an unknown key or bad value."""
        return from_mapping(cls, d, "features")


@dataclass
class GraphConfig:
    """Graph construction (config group ``graph``).

    Attributes:
        hydrogens: ``implicit`` (heavy atoms only) or ``explicit``.
        cutoff: Edges between atoms closer than this (Angstrom); ``None``: fully connected.
            Bonded pairs are always edges.
        max_neighbors: Keep at most this many nearest neighbours per atom; ``None``: no cap.
    """

    hydrogens: str = "implicit"
    cutoff: float | None = 5.0
    max_neighbors: int | None = 16

    def __post_init__(self):
        g = "graph"
        self.hydrogens = check_choice(g, "hydrogens", self.hydrogens, HYDROGEN_MODES)
        cutoff = self.cutoff
        number = isinstance(cutoff, (int, float)) and not isinstance(cutoff, bool)
        if cutoff is not None and not (number and cutoff > 0):
            raise InputError(
                f"graph.cutoff: received {cutoff!r}; expected a positive distance or null"
            )
        self.cutoff = None if cutoff is None else float(cutoff)
        self.max_neighbors = check_int(g, "max_neighbors", self.max_neighbors, 1, optional=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> GraphConfig:
        """Build from a ``graph`` dict; ``InputError`` for an unknown key or bad value."""
        return from_mapping(cls, d, "graph")

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as the dict the featurizer takes."""
        return {
            "hydrogens": self.hydrogens,
            "cutoff": self.cutoff,
            "max_neighbors": self.max_neighbors,
        }


@dataclass
class BaggingConfig:
    """Multi-conformer bagging (config group ``bagging``).

    Attributes:
        num_conformers: K, conformers per molecule used in training, evaluation and
            prediction (the lowest-energy ones of the generated pool, see
            :func:`conformers_kept`). The default is the default generation pool.
        train_sampling: ``sample`` (one random conformer per molecule per epoch) or ``all``.
        aggregate: How conformer and member predictions are combined: ``mean`` or ``median``.
    """

    num_conformers: int = ConformerConfig.pool_size
    train_sampling: str = "sample"
    aggregate: str = "mean"

    def __post_init__(self):
        g = "bagging"
        self.num_conformers = check_int(g, "num_conformers", self.num_conformers, 1)
        self.train_sampling = check_choice(g, "train_sampling", self.train_sampling, TRAIN_SAMPLING)
        self.aggregate = check_choice(g, "aggregate", self.aggregate, AGGREGATE_METHODS)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> BaggingConfig:
        """Build from a ``bagging`` dict; ``InputError`` for an unknown key or bad value."""
        return from_mapping(cls, d, "bagging")
