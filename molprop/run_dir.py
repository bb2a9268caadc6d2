"""The run-directory layout of a training run (the one place that defines it).

::

    <run_dir>/
      config.yaml              resolved Hydra config
      splits.json, skipped.csv written by the datamodule
      checkpoints/             best.ckpt, last.ckpt (every epoch); member_<m>/ when M > 1
      model/model.json         kwargs, task, scaler, conformer/graph/bagging settings
      model/member_<m>.safetensors   weights (incl. scaler buffers) of ensemble member m
      model/train_fingerprints.safetensors   training fingerprints (distance uncertainty part)
      metrics.json, test_predictions.csv, parity.png | roc.png, logs/ (CSV/TensorBoard)
      calibration.png          uncertainty calibration on the test split (regression)
      losses.png               training and validation losses per epoch (from logs/)

``model/`` is written and read by :mod:`molprop.artifacts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from molprop.exceptions import ArtifactError, InputError


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
    train_fingerprints = property(
        lambda self: self.root / "model" / "train_fingerprints.safetensors"
    )
    metrics = property(lambda self: self.root / "metrics.json")
    test_predictions = property(lambda self: self.root / "test_predictions.csv")
    parity_plot = property(lambda self: self.root / "parity.png")
    roc_plot = property(lambda self: self.root / "roc.png")
    calibration_plot = property(lambda self: self.root / "calibration.png")
    loss_plot = property(lambda self: self.root / "losses.png")
    logs = property(lambda self: self.root / "logs")

    def member_checkpoints(self, member: int, size: int) -> Path:
        """Checkpoint folder of ensemble member ``member`` out of ``size``."""
        return self.checkpoints if size <= 1 else self.checkpoints / f"member_{member}"

    def member_weights(self, member: int) -> Path:
        """Safetensors file of ensemble member ``member``."""
        return self.model_dir / f"member_{member}.safetensors"


#: File name of the checkpoint written after every epoch (the one to resume from).
LAST_CHECKPOINT = "last.ckpt"


def resume_target(ckpt_path: str | Path) -> tuple[Path | None, int, Path]:
    """Interpret a resume checkpoint: its run directory, ensemble member and resolved path.

    ``<run>/checkpoints/last.ckpt`` is member 0 of ``<run>``;
    ``<run>/checkpoints/member_<m>/last.ckpt`` is member ``m``. Any other file resumes member 0
    without a run directory (``None``).

    Raises:
        InputError: When ``ckpt_path`` is not a file.
    """
    path = Path(str(ckpt_path)).expanduser().resolve()
    if not path.is_file():
        raise InputError(
            f"ckpt_path={str(ckpt_path)!r}: no such file; expected a checkpoint such as "
            f"<run_dir>/checkpoints/{LAST_CHECKPOINT}"
        )
    parent, member = path.parent, 0
    if parent.name.startswith("member_") and parent.name[len("member_") :].isdigit():
        member, parent = int(parent.name[len("member_") :]), parent.parent
    root = parent.parent if parent.name == "checkpoints" else None
    return root, member, path


def check_run_dir(run_dir: str | Path) -> RunDir:
    """Return the :class:`RunDir` of ``run_dir`` if it is a folder holding ``model/model.json``.

    Cheap (no torch): ``molprop predict`` calls it before loading the model.

    Raises:
        ArtifactError: When the folder does not exist or has no ``model/model.json``.
    """
    run = RunDir(run_dir)
    if not run.root.is_dir():
        raise ArtifactError(
            f"run directory '{run.root}' does not exist; expected the output "
            "folder of a finished `molprop train` run"
        )
    if not run.model_json.exists() and not run.model_json.is_symlink():
        raise ArtifactError(
            f"run directory '{run.root}' has no model/model.json; expected a "
            "finished training run (model/ is written at the end of training)"
        )
    return run
