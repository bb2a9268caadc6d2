"""The run-directory layout, and saving/loading ``model/`` without Hydra or pickles.

Layout of a training run (the one place that defines it)::

    <run_dir>/
      config.yaml              resolved Hydra config
      splits.json, skipped.csv written by the datamodule
      checkpoints/             best.ckpt, last.ckpt (checkpoints/member_<m>/ when M > 1)
      model/model.json         kwargs, task, scaler, conformer/graph/bagging settings
      model/member_<m>.safetensors   weights (incl. scaler buffers) of ensemble member m
      metrics.json, test_predictions.csv, parity.png | roc.png, logs/ (CSV/TensorBoard)

``load_model(run_dir)`` rebuilds the ensemble from ``model/`` only: JSON plus
safetensors, so loading never unpickles arbitrary objects.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from molprop.data.tables import TASKS
from molprop.exceptions import MolpropError
from molprop.model import PropertyModel

FORMAT_VERSION = 1


class ArtifactError(MolpropError):
    """A run directory or its ``model/`` folder is missing, incomplete or incompatible."""


@dataclass(frozen=True)
class RunDir:
    """Paths inside one run directory."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    config = property(lambda self: self.root / "config.yaml")
    splits = property(lambda self: self.root / "splits.json")
    skipped = property(lambda self: self.root / "skipped.csv")
    checkpoints = property(lambda self: self.root / "checkpoints")
    model_dir = property(lambda self: self.root / "model")
    model_json = property(lambda self: self.root / "model" / "model.json")
    metrics = property(lambda self: self.root / "metrics.json")
    test_predictions = property(lambda self: self.root / "test_predictions.csv")
    parity_plot = property(lambda self: self.root / "parity.png")
    roc_plot = property(lambda self: self.root / "roc.png")
    logs = property(lambda self: self.root / "logs")

    def member_checkpoints(self, member: int, size: int) -> Path:
        """Checkpoint folder of ensemble member ``member`` out of ``size``."""
        return self.checkpoints if size <= 1 else self.checkpoints / f"member_{member}"

    def member_weights(self, member: int) -> Path:
        """Safetensors file of ensemble member ``member``."""
        return self.model_dir / f"member_{member}.safetensors"


@dataclass
class ModelSpec:
    """Everything besides weights that inference needs; stored as ``model/model.json``.

    Attributes:
        task: ``"regression"`` or ``"classification"``.
        task_names: Target names, in output order.
        backbone: ``SE3Transformer`` kwargs (``out_dim`` included).
        scaler_mean: Per-task target mean (also stored as buffers in the weights).
        scaler_std: Per-task target std.
        conformers: Conformer-generation settings, the fields of
            :class:`molprop.chem.config.ConformerConfig` (runs written before the rename
            store ``pool_size`` as ``num_conformers``; both load).
        graph: Graph settings, the fields of :class:`molprop.data.config.GraphConfig`.
        bagging: Bagging settings, the fields of :class:`molprop.data.config.BaggingConfig`
            (``num_conformers`` = K, ``train_sampling``, ``aggregate``).
        data: Input settings predict reuses (``smiles_column``, ``largest_fragment``).
        num_members: Ensemble size M.
        ensemble_aggregate: How member predictions are combined (``mean``/``median``).
    """

    task: str
    task_names: list[str]
    backbone: dict[str, Any]
    scaler_mean: list[float]
    scaler_std: list[float]
    conformers: dict[str, Any] = field(default_factory=dict)
    graph: dict[str, Any] = field(default_factory=dict)
    bagging: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    num_members: int = 1
    ensemble_aggregate: str = "mean"
    format_version: int = FORMAT_VERSION


def save_spec(run_dir: str | Path, spec: ModelSpec) -> Path:
    """Write ``model/model.json``; returns its path."""
    path = RunDir(run_dir).model_json
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(spec), indent=2, sort_keys=True))
    return path


def save_member(run_dir: str | Path, member: int, model: PropertyModel) -> Path:
    """Write one member's weights (scaler buffers included) as safetensors."""
    path = RunDir(run_dir).member_weights(member)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={"format_version": str(FORMAT_VERSION)})
    return path


def load_spec(run_dir: str | Path) -> ModelSpec:
    """Read and validate ``model/model.json``.

    Raises:
        ArtifactError: When the folder or file is missing, unreadable or incompatible.
    """
    run = RunDir(run_dir)
    if not run.root.is_dir():
        raise ArtifactError(
            f"run directory '{run.root}' does not exist; expected the output "
            "folder of a finished `python train.py` run"
        )
    if not run.model_json.is_file():
        raise ArtifactError(
            f"run directory '{run.root}' has no model/model.json; expected a "
            "finished training run (model/ is written at the end of training)"
        )
    try:
        raw = json.loads(run.model_json.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ArtifactError(f"cannot read '{run.model_json}': {err}") from err
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise ArtifactError(
            f"'{run.model_json}' has format_version={version!r}; this molprop "
            f"reads format_version={FORMAT_VERSION}"
        )
    try:
        spec = ModelSpec(**raw)
    except TypeError as err:
        raise ArtifactError(f"'{run.model_json}' is incompatible: {err}") from err
    if spec.task not in TASKS or len(spec.task_names) != len(spec.scaler_mean):
        raise ArtifactError(
            f"'{run.model_json}' is inconsistent: task={spec.task!r}, "
            f"{len(spec.task_names)} task names, {len(spec.scaler_mean)} scalers"
        )
    return spec


def build_model(spec: ModelSpec) -> PropertyModel:
    """Build an untrained :class:`PropertyModel` with the architecture of ``spec``."""
    return PropertyModel(
        spec.backbone, spec.task_names, spec.task, spec.scaler_mean, spec.scaler_std
    )


def load_model(run_dir: str | Path, device: str | torch.device = "cpu") -> list[PropertyModel]:
    """Load the ensemble members of a run, ready for inference (eval mode).

    Each returned model has a ``spec`` attribute (:class:`ModelSpec`) with the task
    names, task type and the conformer/graph/bagging settings of the run.

    Args:
        run_dir: A training run directory (containing ``model/``).
        device: Where to put the models.

    Returns:
        One :class:`PropertyModel` per ensemble member.

    Raises:
        ArtifactError: For a missing, incomplete or incompatible run directory.
    """
    spec = load_spec(run_dir)
    run = RunDir(run_dir)
    members = []
    for m in range(spec.num_members):
        path = run.member_weights(m)
        if not path.is_file():
            raise ArtifactError(
                f"'{path}' is missing; model.json lists {spec.num_members} ensemble members"
            )
        try:
            model = build_model(spec)
            model.load_state_dict(load_file(str(path)), strict=True)
        except (RuntimeError, TypeError, ValueError, OSError) as err:
            raise ArtifactError(
                f"weights '{path}' do not match model/model.json "
                f"(incompatible molprop version?): {err}"
            ) from err
        model.spec = spec
        members.append(model.to(device).eval())
    return members
