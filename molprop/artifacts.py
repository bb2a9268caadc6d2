"""Saving and loading a run's ``model/`` (``model.json`` + safetensors) without Hydra or pickles.

The run-directory layout is :mod:`molprop.run_dir` (:class:`RunDir` is re-exported here).
``load_model(run_dir)`` rebuilds the ensemble from ``model/`` only: JSON plus
safetensors, so loading never unpickles arbitrary objects.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from molprop.atomic import atomic_path, write_text_atomic
from molprop.bagging import AGGREGATE_METHODS as AGGREGATES
from molprop.data.config import BaggingConfig
from molprop.data.descriptor_set import descriptor_dim
from molprop.data.tables import TASKS
from molprop.exceptions import ArtifactError, InputError
from molprop.model import PropertyModel
from molprop.run_dir import RunDir, check_run_dir

__all__ = [
    "FORMAT_VERSION",
    "ArtifactError",
    "ModelSpec",
    "RunDir",
    "build_model",
    "load_model",
    "load_spec",
    "non_finite_tensors",
    "save_member",
    "save_spec",
    "spec_problem",
]

FORMAT_VERSION = 1


def non_finite_tensors(state: dict[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors of ``state`` that hold NaN or infinity."""
    return [
        name
        for name, value in state.items()
        if value.is_floating_point() and not bool(torch.isfinite(value).all())
    ]


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
        descriptors: Molecule-level descriptors, the state of
            :class:`molprop.data.descriptor_set.DescriptorSet` (``rdkit2d`` names, user
            ``columns``, ``scaler``); ``None``: none (also every run written before them).
        variance_head: Whether the members predict a variance (mean-variance head).
        uncertainty: The run's calibration,
            :meth:`molprop.uncertainty.record.CalibrationSet.to_dict`; ``None`` for a run
            trained before calibration was recorded (it predicts without those columns).
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
    descriptors: dict[str, Any] | None = None
    variance_head: bool = False
    uncertainty: dict[str, Any] | None = None
    format_version: int = FORMAT_VERSION


def save_spec(run_dir: str | Path, spec: ModelSpec) -> Path:
    """Write ``model/model.json``; returns its path."""
    return write_text_atomic(
        RunDir(run_dir).model_json, json.dumps(asdict(spec), indent=2, sort_keys=True)
    )


def save_member(run_dir: str | Path, member: int, model: PropertyModel) -> Path:
    """Write one member's weights (scaler buffers included) as safetensors, atomically.

    Raises:
        ArtifactError: When a weight is NaN or infinite (a diverged model is never saved).
    """
    path = RunDir(run_dir).member_weights(member)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    bad = non_finite_tensors(state)
    if bad:
        raise ArtifactError(
            f"refusing to save ensemble member {member} to '{path}': non-finite (NaN/inf) "
            f"weights in {', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}; training "
            "diverged (try a lower optimizer.lr)"
        )
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"format_version": str(FORMAT_VERSION)})
    return path


def _regular_file(path: Path, what: str) -> Path:
    """``path`` if it is a regular file (not a link); ``ArtifactError`` naming it otherwise."""
    if path.is_symlink():
        raise ArtifactError(
            f"{what} '{path}' is a symbolic link; model/ files must be regular files "
            "(copy the run directory instead of linking its files)"
        )
    if not path.is_file():
        raise ArtifactError(f"{what} '{path}' is missing or not a regular file")
    return path


def load_spec(run_dir: str | Path) -> ModelSpec:
    """Read and validate ``model/model.json``.

    Raises:
        ArtifactError: When the folder or file is missing, unreadable or incompatible.
    """
    run = check_run_dir(run_dir)
    _regular_file(run.model_json, "model description")
    try:
        raw = json.loads(run.model_json.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ArtifactError(f"'{run.model_json}' is not UTF-8 text: {err}") from err
    except (OSError, json.JSONDecodeError) as err:
        raise ArtifactError(f"cannot read '{run.model_json}': {err}") from err
    if not isinstance(raw, dict):
        raise ArtifactError(
            f"'{run.model_json}' holds a JSON {type(raw).__name__}; expected an object "
            "with task, task_names, backbone, ..."
        )
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
    problem = spec_problem(spec)
    if problem:
        raise ArtifactError(f"'{run.model_json}': {problem}")
    return spec


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def spec_problem(spec: ModelSpec) -> str | None:
    """Describe the first field of ``spec`` that inference cannot use (``None``: all usable)."""
    n = spec.num_members
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        return f"num_members={n!r}; expected an integer >= 1"
    if not isinstance(spec.backbone, dict) or not all(
        isinstance(v, dict) for v in (spec.conformers, spec.graph, spec.bagging, spec.data)
    ):
        return "backbone, conformers, graph, bagging and data must be JSON objects"
    cutoff = spec.graph.get("cutoff")
    if cutoff is not None and not (_is_number(cutoff) and cutoff > 0):
        return f"graph.cutoff={cutoff!r}; expected a positive number or null"
    neighbors = spec.graph.get("max_neighbors")
    if neighbors is not None and not (isinstance(neighbors, int) and neighbors >= 1):
        return f"graph.max_neighbors={neighbors!r}; expected an integer >= 1 or null"
    for name, value in (
        ("bagging.aggregate", spec.bagging.get("aggregate", BaggingConfig.aggregate)),
        ("ensemble_aggregate", spec.ensemble_aggregate),
    ):
        if value not in AGGREGATES:
            return f"{name}={value!r}; expected one of {', '.join(AGGREGATES)}"
    if not all(_is_number(v) for v in [*spec.scaler_mean, *spec.scaler_std]):
        return "scaler_mean/scaler_std must be finite numbers"
    try:
        descriptor_dim(spec.descriptors)
    except InputError as err:
        return str(err)
    if not isinstance(spec.variance_head, bool):
        return f"variance_head={spec.variance_head!r}; expected true or false"
    if spec.uncertainty is not None and not isinstance(spec.uncertainty, dict):
        return (
            f"uncertainty is a JSON {type(spec.uncertainty).__name__}; expected an object or null"
        )
    return None


def build_model(spec: ModelSpec) -> PropertyModel:
    """Build an untrained :class:`PropertyModel` with the architecture of ``spec``."""
    return PropertyModel(
        spec.backbone,
        spec.task_names,
        spec.task,
        spec.scaler_mean,
        spec.scaler_std,
        descriptor_dim=descriptor_dim(spec.descriptors),
        variance_head=spec.variance_head,
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
        if not path.exists() and not path.is_symlink():
            raise ArtifactError(
                f"'{path}' is missing; model.json lists {spec.num_members} ensemble members"
            )
        model = _load_member(spec, _regular_file(path, f"weights of member {m}"))
        model.spec = spec
        members.append(model.to(device).eval())
    return members


def _load_member(spec: ModelSpec, path: Path) -> PropertyModel:
    """Build the architecture of ``spec`` and load the safetensors weights at ``path``."""
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ArtifactError(
            f"weights '{path}' are not a readable safetensors file (truncated, empty or "
            f"another format?): {err}"
        ) from err
    bad = non_finite_tensors(state)
    if bad:
        raise ArtifactError(
            f"weights '{path}' hold non-finite (NaN/inf) values in {', '.join(bad[:3])}; "
            "the run diverged, retrain it"
        )
    try:
        model = build_model(spec)
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, ValueError, KeyError) as err:
        raise ArtifactError(
            f"weights '{path}' do not match model/model.json (incompatible molprop version?): {err}"
        ) from err
    return model
