"""Training losses of the LightningModule: masked over missing targets, checked for divergence."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from molprop.exceptions import TrainingError

LOSSES = ("mse", "smooth_l1", "bce")
#: The loss of a model with a variance head (``variance_head=True``).
GAUSSIAN_NLL = "gaussian_nll"


def masked_loss(raw: torch.Tensor, target: torch.Tensor, loss: str) -> torch.Tensor:
    """Mean loss over the non-NaN target entries.

    Args:
        raw: Model outputs (standardised values or logits). Shape ``[B, T]``.
        target: Standardised targets or 0/1 labels, NaN where missing. Shape ``[B, T]``.
        loss: ``"mse"``, ``"smooth_l1"`` or ``"bce"`` (with logits).

    Returns:
        Scalar loss; exactly 0 (still differentiable) when every target is missing.
    """
    mask = ~torch.isnan(target)
    filled = torch.where(mask, target, torch.zeros_like(target))
    raw = raw.float()
    if loss == "mse":
        values = F.mse_loss(raw, filled, reduction="none")
    elif loss == "smooth_l1":
        values = F.smooth_l1_loss(raw, filled, reduction="none")
    elif loss == "bce":
        values = F.binary_cross_entropy_with_logits(raw, filled, reduction="none")
    else:
        raise ValueError(f"model.loss={loss!r} is not supported; expected one of {LOSSES}")
    count = mask.sum()
    return (values * mask).sum() / count.clamp(min=1)


def masked_gaussian_nll(
    mean: torch.Tensor, variance: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Mean Gaussian negative log-likelihood over the non-NaN target entries.

    Args:
        mean: Predicted standardised means. Shape ``[B, T]``.
        variance: Predicted variances of the standardised targets (> 0). Shape ``[B, T]``.
        target: Standardised targets, NaN where missing. Shape ``[B, T]``.

    Returns:
        Scalar loss ``mean(log(var) / 2 + (target - mean)^2 / (2 var))`` (torch's
        ``gaussian_nll_loss`` without its constant); exactly 0 when every target is missing.
    """
    mask = ~torch.isnan(target)
    filled = torch.where(mask, target, torch.zeros_like(target))
    values = F.gaussian_nll_loss(mean.float(), filled, variance.float(), reduction="none")
    return (values * mask).sum() / mask.sum().clamp(min=1)


def loss_name(task: str, loss: str, variance_head: bool) -> str:
    """Name of the training loss: BCE for classification, Gaussian NLL with a variance head.

    Raises:
        ValueError: For an unknown loss, or a variance head with a loss other than
            ``mse`` (the default) or ``gaussian_nll``.
    """
    if variance_head:
        if loss not in ("mse", GAUSSIAN_NLL):
            raise ValueError(
                f"model.loss={loss!r} with model.variance_head=true: the variance head trains "
                f"with the Gaussian NLL; expected model.loss 'mse' (default) or {GAUSSIAN_NLL!r}"
            )
        return GAUSSIAN_NLL
    name = "bce" if task == "classification" else loss
    if name not in LOSSES:
        raise ValueError(f"model.loss={loss!r} is not supported; expected mse or smooth_l1")
    return name


def check_finite_loss(loss: torch.Tensor, epoch: int, step: int) -> None:
    """Raise :class:`TrainingError` when the training loss is NaN or infinite."""
    if not bool(torch.isfinite(loss.detach()).all()):
        raise TrainingError(
            f"training loss is {float(loss.detach()):g} at epoch {epoch}, step {step}: training "
            "diverged; lower optimizer.lr, keep trainer.gradient_clip_val, check the targets"
        )
