"""Checkpoint files that survive kills and full disks, and load without unpickling code.

:class:`SafeCheckpointIO` is the Trainer's checkpoint plugin (set by
:func:`molprop.train.run.build_trainer`): it writes ``*.ckpt`` to a temporary file and renames
it, so a crash never leaves a truncated ``last.ckpt`` under the final name, and it reads with
``torch.load(weights_only=True)`` and no fallback, so a planted pickle is refused, not run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from molprop.atomic import atomic_path
from molprop.exceptions import InputError


def load_checkpoint_file(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a molprop checkpoint with ``weights_only=True`` (tensors and plain containers only).

    Raises:
        InputError: When the file is missing, truncated, not a checkpoint or holds objects
            that only unpickling code could rebuild.
    """
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError as err:
        raise InputError(f"checkpoint '{path}' does not exist") from err
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(
            f"checkpoint '{path}' cannot be read safely (truncated, not a molprop checkpoint, "
            f"or it holds pickled objects, which molprop never loads): {first}"
        ) from err
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise InputError(f"checkpoint '{path}' has no state_dict; expected a molprop checkpoint")
    return checkpoint


class SafeCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` with atomic writes and weights-only reads."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        """Write ``checkpoint`` to ``path`` through a temporary file and a rename."""
        if storage_options is not None:
            raise TypeError("SafeCheckpointIO.save_checkpoint takes no storage_options")
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(
        self, path: Any, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        """Read ``path`` with ``weights_only=True`` whatever the caller asked for."""
        return load_checkpoint_file(path, map_location if map_location is not None else "cpu")
