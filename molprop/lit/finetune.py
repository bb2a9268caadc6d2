"""Fine-tuning controls: freeze the backbone encoder, or give it its own learning rate.

The *encoder* is every backbone parameter except the output head (``backbone.head.*``):
what a pretrained model contributes. :func:`molprop.train.init_from.load_backbone` copies
it (and the head when its shape matches).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

#: Prefix (inside ``PropertyModel.backbone``) of the output head, re-trained on each task.
HEAD_PREFIX = "head."
#: Learning rate of the AdamW used when no optimizer is configured (and of a partial
#: optimizer that names no ``lr``).
DEFAULT_LR = 1e-3


def split_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """Split the parameters of a module with a ``PropertyModel`` ``.model`` into encoder/rest.

    Args:
        model: The LightningModule (its ``model.backbone`` is the SE(3)-Transformer).

    Returns:
        Encoder parameters (``model.backbone.*`` except the head) and all the others
        (backbone head, denoise head, ...), each in registration order.
    """
    encoder_ids = {
        id(p)
        for name, p in model.model.backbone.named_parameters()
        if not name.startswith(HEAD_PREFIX)
    }
    encoder = [p for p in model.parameters() if id(p) in encoder_ids]
    rest = [p for p in model.parameters() if id(p) not in encoder_ids]
    return encoder, rest


def freeze_encoder(model: nn.Module) -> int:
    """Stop gradients to the encoder; returns the number of frozen parameter tensors."""
    encoder, _ = split_parameters(model)
    for p in encoder:
        p.requires_grad_(False)
    return len(encoder)


def build_optimizer(
    model: nn.Module, factory: Callable | None, backbone_lr_scale: float = 1.0
) -> torch.optim.Optimizer:
    """Build the optimizer over trainable parameters (encoder lr: ``lr * backbone_lr_scale``).

    Args:
        model: The LightningModule.
        factory: Partial ``optimizer(params)`` (its ``lr`` keyword is the base rate);
            AdamW(lr=:data:`DEFAULT_LR`) when ``None``.
        backbone_lr_scale: Factor on the encoder's learning rate (1.0: one group).
    """
    if factory is None:
        factory = _default_factory
    encoder, rest = split_parameters(model)
    encoder = [p for p in encoder if p.requires_grad]
    rest = [p for p in rest if p.requires_grad]
    if backbone_lr_scale == 1.0 or not encoder:
        return factory(encoder + rest)
    base_lr = float(getattr(factory, "keywords", {}).get("lr", DEFAULT_LR))
    groups: list[dict[str, Any]] = [{"params": encoder, "lr": base_lr * backbone_lr_scale}]
    if rest:
        groups.append({"params": rest})
    return factory(groups)


def _default_factory(params) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=DEFAULT_LR)
