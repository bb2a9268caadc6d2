"""LightningDataModule: input file -> conformer graphs -> split, scaled, sampled loaders.

Usage (typed configs of :mod:`molprop.data.config`, or plain dicts built into them)::

    dm = MolDataModule(data, conformers, graph, bagging, batch_size=32,
                       cache_dir="data/cache", run_dir="outputs/run1")
    dm.setup()
    dm.train_dataloader()            # Batches with RAW (unscaled) y [B, T]
    dm.test_dataloader()             # every conformer of every test molecule
    dm.split_frame("test")           # rows of the test molecules: row, SMILES, carried, targets
    dm.loader([3, 7, 9])             # all conformers of given rows, in row order

With descriptors (``features.rdkit2d``, ``data.descriptor_columns``, ``data.descriptors_path``)
every graph also carries ``mol_x [1, D]``, scaled on the training rows (``dm.descriptors``).

``setup()`` writes ``splits.json`` and ``skipped.csv`` into ``run_dir`` when given.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch_geometric.loader import DataLoader

from molprop.chem.config import ConformerConfig
from molprop.config import as_dict, coerce
from molprop.data.config import (
    BaggingConfig,
    DataConfig,
    FeaturesConfig,
    GraphConfig,
    conformers_kept,
)
from molprop.data.conformer_jobs import check_skipped, skipped_frame
from molprop.data.dataset import ConformerDataset, ConformerSampler, load_or_build, nan_scaler
from molprop.data.descriptor_set import DescriptorSet
from molprop.data.descriptors import DescriptorScaler, rdkit2d_names, user_descriptors
from molprop.data.featurize import ATOM_FEATURE_DIM, BOND_FEATURE_DIM
from molprop.data.io import MolTable, read_table
from molprop.data.sources import resolve_data_path
from molprop.data.splits import SPLIT_NAMES, make_split, write_split
from molprop.data.table_graphs import (
    attach_descriptors,
    build_table_graphs,
    dataset_key,
    dataset_root,
)

log = logging.getLogger(__name__)


class MolDataModule(L.LightningDataModule):
    """Data of one training run; see the module docstring and ``data/README.md``.

    Args:
        data: ``data`` settings (:class:`~molprop.data.config.DataConfig` or its dict).
        conformers: ``conformers`` settings
            (:class:`~molprop.chem.config.ConformerConfig` or its dict).
        graph: ``graph`` settings (:class:`~molprop.data.config.GraphConfig` or its dict).
        bagging: ``bagging`` settings (:class:`~molprop.data.config.BaggingConfig` or its
            dict; default its defaults).
        batch_size: Graphs per batch.
        loader_workers: DataLoader worker processes.
        seed: Seed of the training conformer sampling and shuffling.
        cache_dir: Conformer cache and processed graphs root (``paths.cache_dir``).
        run_dir: Where ``splits.json`` and ``skipped.csv`` are written.
        bootstrap_seed: Resample the training molecules with replacement (ensembles).
        data_dir: Folder for built/downloaded datasets; default the parent of
            ``cache_dir``, else ``data``.
        progress: Show a progress bar while embedding.
        features: ``features`` settings (:class:`~molprop.data.config.FeaturesConfig` or
            its dict; default none).
    """

    def __init__(
        self,
        data: DataConfig | dict,
        conformers: ConformerConfig | dict,
        graph: GraphConfig | dict,
        bagging: BaggingConfig | dict | None = None,
        batch_size: int = 32,
        loader_workers: int = 0,
        seed: int = 0,
        cache_dir: str | None = None,
        run_dir: str | None = None,
        bootstrap_seed: int | None = None,
        data_dir: str | None = None,
        progress: bool = True,
        features: FeaturesConfig | dict | None = None,
    ):
        super().__init__()
        self.data_cfg = coerce(DataConfig, data)
        self.conformer_cfg = coerce(ConformerConfig, conformers)
        self.graph_cfg = coerce(GraphConfig, graph)
        self.bagging_cfg = coerce(BaggingConfig, bagging)
        self.features_cfg = coerce(FeaturesConfig, features)
        self.batch_size = int(batch_size)
        self.loader_workers = int(loader_workers)
        self.seed = int(seed)
        self.cache_dir = cache_dir
        self.run_dir = run_dir
        self.bootstrap_seed = bootstrap_seed
        default_dir = Path(cache_dir).parent if cache_dir else Path("data")
        self.data_dir = Path(data_dir) if data_dir else default_dir
        self.progress = progress
        self.atom_dim, self.edge_dim = ATOM_FEATURE_DIM, BOND_FEATURE_DIM
        self.dataset: ConformerDataset | None = None
        #: The run's descriptors (fitted scaler) after ``setup``; ``None`` without any.
        self.descriptors: DescriptorSet | None = None

    # ------------------------------------------------------------------ setup
    def setup(self, stage: str | None = None) -> None:
        """Read, embed (cached), featurize, split and fit the scaler; runs once."""
        if self.dataset is not None:
            return
        cfg = self.data_cfg
        path = resolve_data_path(cfg, self.data_dir)
        table = read_table(
            path,
            cfg.smiles_column,
            cfg.target_columns,
            cfg.task,
            # descriptor columns are inputs, never default targets
            exclude=[*([cfg.split_column] if cfg.split_column else []), *cfg_columns(cfg)],
        )
        names, user = user_descriptors(
            table.frame, cfg.descriptor_columns, cfg.descriptors_path, table.path
        )
        if cfg.limit:
            table = _head(table, cfg.limit)
            user = None if user is None else user[: cfg.limit]
        self.source = path
        self.table = table.frame
        self.smiles_column, self.task = table.smiles_column, table.task
        self.task_names, self.carried_columns = table.target_columns, table.carried_columns
        self.targets = table.targets
        k = self._num_conformers()
        key = dataset_key(path, table, cfg.largest_fragment, self.conformer_cfg, k, self.graph_cfg)
        self.dataset, meta, _ = load_or_build(
            dataset_root(self.cache_dir, cfg.name or path.stem),
            key,
            lambda: build_table_graphs(
                table,
                self.conformer_cfg,
                self.graph_cfg,
                k,
                largest_fragment=cfg.largest_fragment,
                cache_dir=self.cache_dir,
                progress=self.progress,
                source=path,
            ),
        )
        self.canonical = meta["canonical"]
        rows = range(len(table))
        self.skipped = skipped_frame(rows, table.smiles, meta["errors"])
        if self.run_dir:
            Path(self.run_dir).mkdir(parents=True, exist_ok=True)
            self.skipped.to_csv(Path(self.run_dir) / "skipped.csv", index=False)
        check_skipped(self.skipped, len(table), cfg.max_skipped_fraction, str(path))
        self._groups = self.dataset.groups()
        usable = [r for r in rows if r in self._groups]
        self.split = make_split(
            self._split_cfg(cfg, path),
            table.frame,
            usable,
            [self.canonical[r] for r in usable],
            str(path),
        )
        if self.run_dir:
            write_split(self.split, Path(self.run_dir) / "splits.json")
        self.train_rows = self._train_rows()
        train = np.array(sorted(set(self.split["train"])), dtype=np.int64)
        if self.task == "classification":
            self.scaler_mean, self.scaler_std = nan_scaler(np.zeros((0, len(self.task_names))))
        else:
            self.scaler_mean, self.scaler_std = nan_scaler(self.targets[train])
        self._fit_descriptors(names, user, train)
        log.info(
            "Data: %s rows, %d usable, %d skipped, split %s, %d graphs",
            len(table),
            len(usable),
            len(self.skipped),
            {k: len(v) for k, v in self.split.items()},
            len(self.dataset),
        )

    @property
    def descriptor_dim(self) -> int:
        """D, molecule-level descriptors per graph (0 without descriptors)."""
        return 0 if self.descriptors is None else self.descriptors.dim

    def _fit_descriptors(self, names: list[str], user: np.ndarray | None, train) -> None:
        """Compute the descriptors of every usable row, fit the scaler on ``train``, attach."""
        rdkit = rdkit2d_names() if self.features_cfg.rdkit2d else []
        if not rdkit and not names:
            return
        descriptors = DescriptorSet(rdkit, names)
        smiles = [self.canonical[r] if r in self._groups else None for r in range(len(self.table))]
        raw = descriptors.raw(smiles, user, self.cache_dir)
        # the scaler sees the training molecules only (each once, also for bootstrap members)
        descriptors.scaler = DescriptorScaler.fit(raw[train])
        self.descriptors = descriptors
        attach_descriptors(self.dataset, descriptors.scaler.transform(raw))
        log.info("Descriptors: %d rdkit2d + %d user", len(rdkit), len(names))

    def _num_conformers(self) -> int:
        return conformers_kept(self.bagging_cfg.num_conformers, self.conformer_cfg.pool_size)

    def _split_cfg(self, cfg: DataConfig, path: Path) -> dict:
        """Return the ``data`` settings as :func:`make_split` takes them.

        A file split without ``split_file`` reads ``<input dir>/splits/<name>.json``.
        """
        split = as_dict(cfg)
        if cfg.split == "file" and not cfg.split_file:
            split["split_file"] = str(path.parent / "splits" / f"{cfg.name or path.stem}.json")
        return split

    def _train_rows(self) -> list[int]:
        rows = list(self.split["train"])
        if self.bootstrap_seed is None or not rows:
            return rows
        rng = np.random.default_rng(int(self.bootstrap_seed))
        return sorted(int(rows[i]) for i in rng.integers(0, len(rows), size=len(rows)))

    # ---------------------------------------------------------------- loaders
    def _indices(self, rows) -> list[int]:
        return [i for r in rows for i in self._groups.get(int(r), [])]

    def loader(self, rows, shuffle: bool = False) -> DataLoader:
        """Loader over every conformer of the given rows (in row order)."""
        subset = self.dataset.index_select(self._indices(rows))
        return DataLoader(
            subset, batch_size=self.batch_size, shuffle=shuffle, num_workers=self.loader_workers,
            pin_memory=torch.cuda.is_available(),  # CUDA: async host-to-device copies
            persistent_workers=self.loader_workers > 0 and torch.cuda.is_available(),
        )  # fmt: skip

    def train_dataloader(self) -> DataLoader:
        """Training loader; ``bagging.train_sampling`` ``sample`` or ``all``."""
        mode = self.bagging_cfg.train_sampling
        groups = [self._groups[r] for r in self.train_rows]
        sampler = ConformerSampler(groups, mode, self.seed)
        return DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.loader_workers,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=self.loader_workers > 0 and torch.cuda.is_available(),
        )

    def val_dataloader(self) -> DataLoader:
        """All conformers of the validation molecules."""
        return self.loader(self.split["val"])

    def test_dataloader(self) -> DataLoader:
        """All conformers of the test molecules."""
        return self.loader(self.split["test"])

    def predict_dataloader(self) -> DataLoader:
        """All conformers of every usable molecule, in row order."""
        return self.loader(sorted(self._groups))

    def split_frame(self, which: str | list[int]) -> pd.DataFrame:
        """Input rows of a split (or row list): ``row``, SMILES, carried and target columns."""
        if isinstance(which, str) and which not in SPLIT_NAMES:
            raise KeyError(f"split '{which}'; expected one of {SPLIT_NAMES} or a list of rows")
        rows = self.split[which] if isinstance(which, str) else [int(r) for r in which]
        frame = self.table.loc[rows, [self.smiles_column, *self.carried_columns]].copy()
        for j, name in enumerate(self.task_names):
            frame[name] = self.targets[rows, j]
        return frame.reset_index()


def cfg_columns(cfg: DataConfig) -> list[str]:
    """Descriptor columns of the input table (``data.descriptor_columns``)."""
    return list(cfg.descriptor_columns or [])


def _head(table: MolTable, limit: int) -> MolTable:
    """Keep the first ``limit`` rows of a table (``data.limit``)."""
    table.frame = table.frame.iloc[:limit]
    table.targets = table.targets[:limit]
    if table.structures is not None:
        table.structures = table.structures[:limit]
        table.errors = table.errors[:limit]
    return table
