"""``model.init_from``: start training from the backbone of a saved ``model/`` (fine-tuning).

The source is a run directory (or a ``pretrained/<name>/`` folder) holding ``model/``; its
``model.json`` is read and validated by :func:`molprop.artifacts.load_spec` and its weights are
read with safetensors only (nothing is unpickled). Every backbone kwarg except ``out_dim`` must
equal the new model's; the output head is copied when its shape matches and re-initialised
otherwise (a new task count).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from molprop import artifacts
from molprop.exceptions import InputError
from molprop.lit.finetune import HEAD_PREFIX
from molprop.model import PropertyModel

log = logging.getLogger(__name__)

#: ``model.*`` keys read by :class:`FinetuneConfig` (``denoise`` goes to the LightningModule).
KEYS = ("init_from", "freeze_backbone", "backbone_lr_scale")
#: Backbone kwargs allowed to differ between the source and the new model.
FREE_KWARGS = ("out_dim",)


@dataclass(frozen=True)
class FinetuneConfig:
    """``model.init_from``, ``model.freeze_backbone``, ``model.backbone_lr_scale``, checked."""

    init_from: str | None = None
    freeze_backbone: bool = False
    backbone_lr_scale: float = 1.0

    @classmethod
    def from_model_cfg(cls, model: Any) -> FinetuneConfig:
        """Read the keys of the ``model`` config node (absent keys take the defaults).

        Raises:
            InputError: For a non-boolean ``freeze_backbone`` or a negative/non-numeric
                ``backbone_lr_scale``.
        """
        init_from = model.get("init_from", cls.init_from)
        freeze = model.get("freeze_backbone", cls.freeze_backbone)
        if not isinstance(freeze, bool):
            raise InputError(f"model.freeze_backbone: received {freeze!r}; expected true or false")
        scale = model.get("backbone_lr_scale", cls.backbone_lr_scale)
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale >= 0:
            raise InputError(
                f"model.backbone_lr_scale: received {scale!r}; expected a number >= 0 "
                "(factor on the backbone's learning rate)"
            )
        return cls(None if init_from in (None, "") else str(init_from), freeze, float(scale))


def source_run(path: str | Path) -> Path:
    """Return the run directory of ``path``: itself, or its parent when it is a ``model/``."""
    path = Path(path)
    if (path / "model.json").is_file() and not (path / "model").is_dir():
        return path.parent
    return path


def check_backbone_kwargs(source: dict[str, Any], target: dict[str, Any], origin: str) -> None:
    """Raise a one-line :class:`InputError` naming the first backbone kwarg that differs."""
    for key in sorted(set(source) | set(target)):
        if key in FREE_KWARGS:
            continue
        if source.get(key) != target.get(key):
            raise InputError(
                f"model.init_from='{origin}': backbone kwarg {key!r} is {source.get(key)!r} there "
                f"but {target.get(key)!r} here; expected equal backbones (same model size, "
                "graph and featurisation settings)"
            )


def load_backbone(model: PropertyModel, init_from: str | Path) -> list[str]:
    """Copy the backbone weights of the saved model at ``init_from`` into ``model``.

    Args:
        model: The new (untrained) model; modified in place.
        init_from: Run directory or ``pretrained/<name>`` folder with ``model/``, or that
            ``model/`` folder itself. Member 0's weights are used.

    Returns:
        Names (inside ``model.backbone``) of the parameters left at their new initialisation
        (the head when its output size differs); empty when everything was copied.

    Raises:
        InputError: When the source is unreadable or its backbone kwargs differ.
    """
    run = artifacts.RunDir(source_run(init_from))
    try:
        spec = artifacts.load_spec(run.root)
        state = load_file(str(run.member_weights(0)))
    except (artifacts.ArtifactError, OSError, SafetensorError) as err:
        raise InputError(f"model.init_from='{init_from}': {err}") from None
    check_backbone_kwargs(spec.backbone, model.backbone_kwargs, str(init_from))
    source = {k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")}
    target = model.backbone.state_dict()
    differs = [n for n, t in target.items() if n not in source or source[n].shape != t.shape]
    encoder = [n for n in differs if not n.startswith(HEAD_PREFIX)]
    if encoder:
        name = encoder[0]
        raise InputError(
            f"model.init_from='{init_from}': backbone weight {name!r} is "
            f"{tuple(source[name].shape) if name in source else None} there but "
            f"{tuple(target[name].shape)} here; expected the same architecture"
        )
    # a head of another output size is re-initialised as a whole (all its layers)
    skipped = [n for n in target if n.startswith(HEAD_PREFIX)] if differs else []
    with torch.no_grad():
        for name, tensor in target.items():
            if name not in skipped:
                tensor.copy_(source[name].to(tensor.dtype))
    log.info("model.init_from=%s: backbone copied; re-initialised %s", init_from, skipped or "-")
    return skipped
