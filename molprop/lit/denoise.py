"""Coordinate denoising: an auxiliary (or pretraining) objective of the LightningModule.

With ``denoise.weight > 0`` a training step adds Gaussian noise ``sigma * eps`` to the atom
positions, runs the backbone once on the noised conformer and predicts ``eps`` per atom from
the last layer's degree-1 features (:class:`molprop.nn.vector_head.VectorHead`). The task
head reads the pooled embedding of the same noised features, so the step costs one forward
pass. The denoise head belongs to the LightningModule, not to the saved ``model/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from molprop.exceptions import InputError
from molprop.nn.vector_head import VectorHead

#: How each ``model.denoise`` key is read from the config.
_CASTS: dict[str, Callable[[Any], Any]] = {"weight": float, "sigma": float, "hidden": int}


@dataclass(frozen=True)
class DenoiseConfig:
    """``model.denoise``: coordinate-denoising loss weight and noise scale.

    Attributes:
        weight: Weight of the denoise loss added to the task loss; 0 turns it off.
        sigma: Standard deviation of the Gaussian position noise, in Angstrom.
        hidden: Hidden width of the :class:`VectorHead` gate MLP.
    """

    weight: float = 0.0
    sigma: float = 0.2
    hidden: int = 32

    @property
    def enabled(self) -> bool:
        """Whether the denoise loss is on."""
        return self.weight > 0

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> DenoiseConfig:
        """Read ``model.denoise`` (``None``: off).

        Raises:
            InputError: For an unknown key, a negative weight or a non-positive sigma/hidden.
        """
        values = dict(values or {})
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise InputError(f"model.denoise: unknown keys {unknown}; expected keys among {names}")
        try:  # absent keys take the field defaults
            cfg = cls(**{name: _CASTS[name](value) for name, value in values.items()})
        except (TypeError, ValueError) as exc:
            raise InputError(f"model.denoise: {exc}; expected numbers, received {values}") from None
        if not cfg.weight >= 0:
            raise InputError(f"model.denoise.weight: received {cfg.weight}; expected >= 0")
        if not cfg.sigma > 0 or cfg.hidden < 1:
            raise InputError(
                f"model.denoise: received sigma={cfg.sigma}, hidden={cfg.hidden}; expected "
                "sigma > 0 (Angstrom) and hidden >= 1"
            )
        return cfg

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for hyperparameters)."""
        return asdict(self)


def build_denoise_head(backbone_kwargs: dict[str, Any], cfg: DenoiseConfig) -> VectorHead:
    """Build the per-atom noise predictor for a backbone built from ``backbone_kwargs``.

    Args:
        backbone_kwargs: Every constructor argument of the built backbone, defaults
            included (``SE3Transformer.config``), so that no default is repeated here.
        cfg: The denoise settings.

    Raises:
        InputError: When the backbone has no degree-1 features (``max_degree < 1``).
    """
    if int(backbone_kwargs["max_degree"]) < 1:
        raise InputError(
            f"model.denoise.weight={cfg.weight} needs degree-1 features; received "
            f"model.backbone.max_degree={backbone_kwargs['max_degree']}, expected >= 1"
        )
    channels = int(backbone_kwargs["channels"])
    return VectorHead(channels, channels, hidden=cfg.hidden)


def predict_noise(
    backbone: nn.Module, head: nn.Module, batch, features: Callable | None = None
) -> tuple[torch.Tensor, Any]:
    """Per-atom noise prediction ``[N, 3]`` and every layer's features of ``batch``.

    The prediction rotates with the input: ``pos -> pos @ R.T`` gives ``v -> v @ R.T``.
    ``features`` replaces ``backbone.forward_features`` (the compiled one of the model).
    """
    history = (backbone.forward_features if features is None else features)(batch)
    return head(history[-1]), history


def noised_forward(
    backbone: nn.Module,
    head: nn.Module,
    batch,
    sigma: float,
    generator: torch.Generator | None = None,
    readout: Callable[[torch.Tensor, Any], torch.Tensor] | None = None,
    features: Callable | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the backbone once on noised positions: task output and denoise loss.

    Args:
        backbone: ``SE3Transformer`` (``forward_features``, ``pool_features``, ``head``).
        head: Noise predictor mapping the last layer's features to ``[N, 3]``.
        batch: PyG batch with ``pos [N, 3]`` and ``batch [N]``; it is not modified.
        sigma: Noise standard deviation (Angstrom).
        generator: Optional CPU generator (fixed noise for validation).
        readout: Maps the pooled embedding ``[B, channels]`` and the batch to the task output
            (:meth:`molprop.model.PropertyModel.readout`, which adds descriptors); default
            the backbone's own head.
        features: Replaces ``backbone.forward_features``
            (:meth:`molprop.model.PropertyModel.forward_features`, compiled with
            ``model.compile``).

    Returns:
        ``(raw [B, out_dim], loss)``: the backbone output for the noised conformers and
        ``mse(head(features), eps)`` over atoms and coordinates (1.0 for a zero predictor).
    """
    pos = batch.pos
    eps = torch.randn(pos.shape, generator=generator, dtype=torch.float32).to(pos.device)
    noised = batch.clone()
    noised.pos = pos + sigma * eps.to(pos.dtype)
    prediction, history = predict_noise(backbone, head, noised, features)
    embedding = backbone.pool_features(history, noised)
    raw = backbone.head(embedding) if readout is None else readout(embedding, noised)
    return raw.reshape(raw.shape[0], -1), F.mse_loss(prediction.float(), eps)
