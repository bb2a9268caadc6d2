"""Learning-rate schedule factories used as ``_partial_: true`` Hydra targets.

Each factory takes the optimizer first; factories that accept ``total_steps`` get
``trainer.estimated_stepping_batches`` from the LightningModule.
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau


def warmup_cosine(
    optimizer: Optimizer,
    total_steps: int,
    warmup_fraction: float = 0.05,
    min_lr_ratio: float = 0.05,
) -> LambdaLR:
    """Linear warm-up followed by cosine decay, stepped every optimizer step.

    Args:
        optimizer: The optimizer whose learning rates are scheduled.
        total_steps: Total optimizer steps of the run.
        warmup_fraction: Fraction of ``total_steps`` spent warming up linearly from ~0.
        min_lr_ratio: Final learning rate as a fraction of the base rate.

    Returns:
        A ``LambdaLR`` scheduler.
    """
    total = max(int(total_steps), 1)
    warmup = max(int(round(warmup_fraction * total)), 0)

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        progress = min((step - warmup) / max(total - warmup, 1), 1.0)
        return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)


def plateau(
    optimizer: Optimizer, mode: str | None = "min", factor: float = 0.5, patience: int = 5
) -> ReduceLROnPlateau:
    """Reduce the learning rate when the monitored validation metric stops improving.

    Args:
        optimizer: The optimizer whose learning rates are scheduled.
        mode: ``"min"`` or ``"max"``, matching the monitored metric.
        factor: Multiplicative decay applied on a plateau.
        patience: Epochs without improvement before decaying.

    Returns:
        A ``ReduceLROnPlateau`` scheduler (stepped per epoch on the monitored metric).
    """
    return ReduceLROnPlateau(optimizer, mode=mode or "min", factor=factor, patience=patience)
