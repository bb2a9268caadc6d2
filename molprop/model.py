"""Plain-torch property model: SE(3)-Transformer backbone plus the target scaler as buffers.

:class:`PropertyModel` is what ``model/`` stores and what inference uses; the
LightningModule wraps it. It knows nothing of Lightning or Hydra, so it can be
rebuilt from JSON kwargs and a safetensors state dict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

TASK_TYPES = ("regression", "classification")


def build_backbone(backbone: dict[str, Any]) -> nn.Module:
    """Build the SE(3)-Transformer from plain constructor kwargs.

    Args:
        backbone: ``SE3Transformer`` keyword arguments (JSON-able values only).

    Returns:
        The backbone module.
    """
    from molprop.nn import SE3Transformer

    return SE3Transformer(**backbone)


def compile_backbone(backbone: nn.Module, **options: Any) -> nn.Module:
    """``torch.compile`` a backbone (inductor) for training or inference.

    The whole forward pass is one graph (``fullgraph=True``: it reads no tensor values) and
    shapes are dynamic, since every batch has other numbers of atoms and edges. The first
    calls compile (tens of seconds to minutes on a CPU); later ones reuse the code.

    Args:
        backbone: The module to compile; its parameters are shared, not copied.
        **options: Override ``torch.compile`` keyword arguments (e.g. ``mode``).

    Returns:
        The compiled module (call it like ``backbone``).
    """
    return torch.compile(backbone, **{"fullgraph": True, "dynamic": True, **options})


class PropertyModel(nn.Module):
    """Backbone whose outputs are standardised targets (regression) or logits (classification).

    Args:
        backbone: ``SE3Transformer`` kwargs; ``out_dim`` is set to the number of tasks.
        task_names: Names of the ``T`` tasks.
        task: ``"regression"`` or ``"classification"``.
        scaler_mean: Per-task mean of the training targets (ignored for classification).
        scaler_std: Per-task std of the training targets (ignored for classification).
        backbone_module: Pre-built backbone (tests use small fakes); built from
            ``backbone`` when ``None``.
        compile: Run the backbone through :func:`compile_backbone` (``model.compile``); the
            parameters and the state dict are those of the uncompiled backbone.
    """

    def __init__(
        self,
        backbone: dict[str, Any],
        task_names: Sequence[str],
        task: str = "regression",
        scaler_mean: Sequence[float] | None = None,
        scaler_std: Sequence[float] | None = None,
        backbone_module: nn.Module | None = None,
        compile: bool = False,
    ) -> None:
        super().__init__()
        if task not in TASK_TYPES:
            raise ValueError(f"task={task!r} is not supported; expected one of {TASK_TYPES}")
        num_tasks = len(task_names)
        self.task = task
        self.task_names = list(task_names)
        self.backbone_kwargs = {**backbone, "out_dim": num_tasks}
        self.backbone = backbone_module or build_backbone(self.backbone_kwargs)
        # kept out of the module tree, so state_dict() holds the backbone's weights only once
        self.__dict__["_compiled"] = compile_backbone(self.backbone) if compile else None
        mean = torch.zeros(num_tasks) if scaler_mean is None else torch.as_tensor(scaler_mean)
        std = torch.ones(num_tasks) if scaler_std is None else torch.as_tensor(scaler_std)
        if task == "classification":
            mean, std = torch.zeros(num_tasks), torch.ones(num_tasks)
        std = torch.where(std.abs() > 1e-12, std, torch.ones_like(std))
        self.register_buffer("scaler_mean", mean.float().reshape(num_tasks))
        self.register_buffer("scaler_std", std.float().reshape(num_tasks))

    def forward(self, batch) -> torch.Tensor:
        """Raw model output.

        Args:
            batch: PyG ``Batch`` with ``x [N, F_atom]``, ``pos [N, 3]``, ``edge_index [2, E]``,
                ``edge_attr [E, F_edge]`` and ``batch [N]``.

        Returns:
            Standardised predictions or logits. Shape ``[B, T]``.
        """
        out = (self._compiled or self.backbone)(batch)
        return out.reshape(out.shape[0], -1)

    def scale_targets(self, y: torch.Tensor) -> torch.Tensor:
        """Standardise raw targets ``[B, T]`` (identity for classification)."""
        return (y - self.scaler_mean) / self.scaler_std

    def to_output(self, raw: torch.Tensor) -> torch.Tensor:
        """Map raw outputs ``[B, T]`` to target units (regression) or probabilities."""
        raw = raw.float()
        if self.task == "classification":
            return torch.sigmoid(raw)
        return raw * self.scaler_std + self.scaler_mean

    @torch.no_grad()
    def predict(self, batch) -> torch.Tensor:
        """Per-conformer predictions in output space. Shape ``[B, T]``."""
        return self.to_output(self(batch))
