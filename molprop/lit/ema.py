"""Exponential moving average (EMA) of the weights during training.

Lightning's :class:`~lightning.pytorch.callbacks.WeightAveraging` keeps the average: it is
swapped in for every validation epoch, so early stopping and ``best.ckpt`` follow the averaged
weights, it is what ``best.ckpt``'s ``state_dict`` holds (the raw weights go to
``current_model_state`` and both come back on a resume), and it replaces the raw weights when
training ends. The saved model of a run therefore carries the averaged weights, and predict
needs nothing new.
"""

from __future__ import annotations

from lightning.pytorch.callbacks import WeightAveraging
from torch.optim.swa_utils import get_ema_multi_avg_fn

from molprop.exceptions import InputError


def ema_callback(decay: float | None = None) -> WeightAveraging | None:
    """Build the EMA callback of ``callbacks.ema.decay`` (``None``: no averaging, no callback).

    Args:
        decay: Weight of the running average at every optimizer step, in ``(0, 1)``;
            ``1 / (1 - decay)`` steps is its horizon (0.99: about the last 100 steps).

    Raises:
        InputError: When ``decay`` is outside ``(0, 1)``.
    """
    if decay is None:
        return None
    if not 0.0 < float(decay) < 1.0:
        raise InputError(f"callbacks.ema.decay={decay!r} is invalid; expected 0 < decay < 1")
    # multi_avg_fn updates all parameters in one foreach call per step
    return WeightAveraging(multi_avg_fn=get_ema_multi_avg_fn(float(decay)))
