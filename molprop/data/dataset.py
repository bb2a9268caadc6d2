"""In-memory PyG dataset with one ``Data`` per (molecule, conformer), and its processed file.

Processed files follow the PyG layout ``<root>/processed/<file>``: the file name carries
a hash of everything that changes the graphs (input file content, columns, conformer
and graph settings, feature layout, library versions), so a changed config never reads
stale graphs. Files are written atomically (temporary file, then rename).

The graphs are stored as safetensors (``graphs_<key>.safetensors``: the collated tensors
``data.<field>`` and ``slices.<field>`` of the fields in :mod:`molprop.data.keys`) with
JSON metadata, never with ``torch.save``: PyG's ``InMemoryDataset.load`` retries a failed
safe load with ``weights_only=False``, which runs any code planted in a cache file. A
file that does not load or does not check out is logged and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import rdkit
import torch
import torch_geometric
from safetensors.torch import load_file, save_file
from torch.utils.data import Sampler
from torch_geometric.data import Data, InMemoryDataset

from molprop.data.featurize import ATOM_FEATURE_DIM, BOND_FEATURE_DIM
from molprop.data.keys import FIELDS

log = logging.getLogger(__name__)

#: Bump when featurization changes in a way the dims do not show.
FEATURE_VERSION = 2
#: Suffix of processed graph files (the format is in the module docstring).
GRAPHS_SUFFIX = ".safetensors"


class ConformerDataset(InMemoryDataset):
    """All conformer graphs of a table; ``mol_idx``/``conf_idx`` link them to rows.

    Args:
        data_list: The graphs (``molprop.data.keys`` contract), or ``None`` to ``load``.
    """

    def __init__(self, data_list: Sequence[Data] | None = None):
        super().__init__(None)
        data_list = None if data_list is None else list(data_list)
        if data_list:
            self._data, self.slices = self.collate(data_list)
        elif data_list is not None:  # no molecule could be used: an empty dataset
            self._data, self.slices = Data(), {}

    def to_tensors(self) -> dict[str, torch.Tensor]:
        """Return the collated graphs as named tensors ``data.<field>``, ``slices.<field>``."""
        out = {f"data.{k}": v.contiguous() for k, v in self._data.to_dict().items()}
        out.update({f"slices.{k}": v.contiguous() for k, v in self.slices.items()})
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> ConformerDataset:
        """Inverse of :meth:`to_tensors`, checked against the data contract.

        Raises:
            ValueError: When a field is missing or unexpected, or a slice does not fit.
        """
        names = {f.name for f in FIELDS}
        expected = {f"{part}.{n}" for part in ("data", "slices") for n in names}
        if set(tensors) != expected:
            raise ValueError(f"tensors {sorted(set(tensors) ^ expected)} are missing or unexpected")
        data = Data(**{n: tensors[f"data.{n}"] for n in names})
        slices = {n: tensors[f"slices.{n}"] for n in names}
        counts = {len(v) for v in slices.values()}
        for name, cut in slices.items():
            size = data[name].shape[data.__cat_dim__(name, data[name])] if data[name].dim() else 0
            steps = cut[1:] - cut[:-1]
            ok = cut.dtype == torch.long and cut.dim() == 1 and len(cut) >= 2
            if not ok or cut[0] != 0 or cut[-1] != size or (steps < 0).any():
                raise ValueError(f"slices of '{name}' do not fit its {size} rows")
        if len(counts) != 1:
            raise ValueError(f"fields hold different numbers of graphs {sorted(counts)}")
        dataset = cls()
        dataset._data, dataset.slices = data, slices
        return dataset

    def groups(self) -> dict[int, list[int]]:
        """Dataset indices of every molecule's conformers, keyed by row (``mol_idx``)."""
        out: dict[int, list[int]] = {}
        if len(self) == 0:
            return out
        for index, row in enumerate(self._data.mol_idx.view(-1).tolist()):
            out.setdefault(int(row), []).append(index)
        return out


def processed_key(parts: dict) -> str:
    """Hash of the settings and inputs that determine the graphs (16 hex characters)."""
    payload = dict(
        parts,
        atom_dim=ATOM_FEATURE_DIM,
        bond_dim=BOND_FEATURE_DIM,
        feature_version=FEATURE_VERSION,
        rdkit=rdkit.__version__,
        pyg=torch_geometric.__version__,
    )
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_or_build(
    root: str | Path | None, key: str, build: Callable[[], tuple[list[Data], dict]]
) -> tuple[ConformerDataset, dict, bool]:
    """Load ``<root>/processed/graphs_<key>.safetensors`` (and its ``.json``) or build them.

    Args:
        root: Dataset root (``<cache_dir>/datasets/<name>``); ``None`` never saves.
        key: :func:`processed_key` of the inputs.
        build: Returns the graphs and JSON-able metadata (``canonical`` and ``errors``:
            one entry per row) when there is no valid file.

    Returns:
        ``(dataset, metadata, loaded)`` where ``loaded`` is True when read from disk.
    """
    if root is None:
        graphs, meta = build()
        return ConformerDataset(graphs), meta, False
    processed = Path(root) / "processed"
    pt_path = processed / f"graphs_{key}{GRAPHS_SUFFIX}"
    meta_path = processed / f"graphs_{key}.json"
    if pt_path.is_file() and meta_path.is_file():
        try:
            dataset = ConformerDataset.from_tensors(load_file(str(pt_path)))
            meta = _check_meta(json.loads(meta_path.read_text()), dataset)
            log.info("Loaded processed graphs %s", pt_path)
            return dataset, meta, True
        except Exception as exc:  # unreadable or inconsistent file: rebuild it
            log.warning("Processed graphs %s are unreadable (%s); rebuilding them", pt_path, exc)
    graphs, meta = build()
    dataset = ConformerDataset(graphs)
    if len(dataset):  # nothing usable: cheap to rebuild from the conformer cache
        processed.mkdir(parents=True, exist_ok=True)
        suffix = f".{os.getpid()}.tmp"
        tmp_pt = pt_path.with_name(pt_path.name + suffix)
        save_file(dataset.to_tensors(), str(tmp_pt))
        os.replace(tmp_pt, pt_path)
        tmp_meta = meta_path.with_name(meta_path.name + suffix)
        tmp_meta.write_text(json.dumps(meta))
        os.replace(tmp_meta, meta_path)
    return dataset, meta, False


def _check_meta(meta, dataset: ConformerDataset) -> dict:
    """Raise ``ValueError`` unless ``meta`` has one canonical SMILES and error per row."""
    if not isinstance(meta, dict):
        raise ValueError(f"metadata is a JSON {type(meta).__name__}, expected an object")
    canonical, errors = meta.get("canonical"), meta.get("errors")
    if not isinstance(canonical, list) or not isinstance(errors, list):
        raise ValueError("metadata lacks the 'canonical' and 'errors' lists")
    if len(canonical) != len(errors):
        raise ValueError(f"metadata lists have {len(canonical)} and {len(errors)} rows")
    rows = dataset._data.mol_idx
    if rows.numel() and not 0 <= int(rows.min()) <= int(rows.max()) < len(canonical):
        raise ValueError(f"graphs name rows beyond the {len(canonical)} rows of the metadata")
    return meta


class ConformerSampler(Sampler[int]):
    """Training order over molecules' conformers, reshuffled every epoch.

    Args:
        groups: Per training molecule (repeated for bootstrap draws), its dataset indices.
        mode: ``sample``: one random conformer per molecule per epoch; ``all``: every
            conformer is an example.
        seed: Base seed; epoch ``e`` uses ``(seed, e)``, so runs (and resumed runs, via
            :meth:`set_epoch`) are reproducible. Without ``set_epoch`` every iteration
            advances the epoch by one.
    """

    def __init__(self, groups: Sequence[Sequence[int]], mode: str = "sample", seed: int = 0):
        if mode not in ("sample", "all"):
            raise ValueError(f"bagging.train_sampling: received '{mode}'; expected sample or all")
        self.groups = [list(g) for g in groups]
        self.mode = mode
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the sampling of ``epoch`` next (Lightning calls this before every epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        if self.mode == "sample":
            return len(self.groups)
        return sum(len(g) for g in self.groups)

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        if self.mode == "sample":
            picks = [g[int(rng.integers(len(g)))] for g in self.groups]
        else:
            picks = [i for g in self.groups for i in g]
        order = rng.permutation(len(picks))
        return iter([int(picks[i]) for i in order])


def nan_scaler(targets: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-task mean and std ignoring NaN; std 1 where undefined or zero, mean 0 if empty.

    Args:
        targets: ``[n, T]`` array.

    Returns:
        ``(mean, std)`` float32 tensors ``[T]``.
    """
    targets = np.asarray(targets, dtype=np.float64)
    count = (~np.isnan(targets)).sum(axis=0)
    total = np.where(np.isnan(targets), 0.0, targets).sum(axis=0)
    mean = np.divide(total, count, out=np.zeros(targets.shape[1]), where=count > 0)
    sq = np.where(np.isnan(targets), 0.0, (targets - mean) ** 2).sum(axis=0)
    std = np.sqrt(np.divide(sq, count, out=np.zeros(targets.shape[1]), where=count > 0))
    std = np.where((std > 1e-12) & np.isfinite(std), std, 1.0)
    return torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)
