"""Plain-torch property model: SE(3)-Transformer backbone plus the target scaler as buffers.

:class:`PropertyModel` is what ``model/`` stores and what inference uses; the
LightningModule wraps it. It knows nothing of Lightning or Hydra, so it can be
rebuilt from JSON kwargs and a safetensors state dict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from molprop.data.keys import MOL_FEATURES
from molprop.data.tables import TASKS

#: Added to the softplus of the variance outputs so a predicted variance is never 0.
MIN_VARIANCE = 1e-6


def build_backbone(backbone: dict[str, Any]) -> nn.Module:
    """Build the SE(3)-Transformer from plain constructor kwargs.

    Args:
        backbone: ``SE3Transformer`` keyword arguments (JSON-able values only).

    Returns:
        The backbone module.
    """
    from molprop.nn import SE3Transformer

    return SE3Transformer(**backbone)


#: The least ``torch._dynamo.config.recompile_limit`` once a backbone is compiled (a process
#: setting). Each combination of grad mode (training, evaluation), a batch of one graph and
#: inductor's size thresholds gets its own graph, about 8 in a run; past the default limit of
#: 8 dynamo raises and the run would stop (a recompile costs seconds to minutes, never a run).
RECOMPILE_LIMIT = 64


def compile_backbone(fn: Any, **options: Any) -> Any:
    """``torch.compile`` a backbone or one of its methods (inductor) for training or inference.

    The whole forward pass is one graph (``fullgraph=True``: it reads no tensor values) and
    shapes are dynamic, since every batch has other numbers of atoms and edges. The first
    calls compile (tens of seconds to minutes on a CPU); later ones reuse the code.

    Args:
        fn: The module (or bound method, e.g. ``backbone.forward_features``) to compile;
            parameters are shared, not copied.
        **options: Override ``torch.compile`` keyword arguments (e.g. ``mode``).

    Returns:
        The compiled callable (call it like ``fn``).
    """
    limit = torch._dynamo.config.recompile_limit
    torch._dynamo.config.recompile_limit = max(limit, RECOMPILE_LIMIT)
    return torch.compile(fn, **{"fullgraph": True, "dynamic": True, **options})


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
        variance_head: Regression only: the backbone outputs ``2T`` values, the standardised
            mean and a variance (see :meth:`split_output`), trained with a Gaussian NLL.
        compile: Run the backbone through :func:`compile_backbone` (``model.compile``); the
            parameters and the state dict are those of the uncompiled backbone.
        descriptor_dim: D molecule-level descriptors per graph (batch field ``mol_x``,
            ``[B, D]``). With D > 0 the backbone's own head is replaced by ``nn.Identity``
            (no unused parameters) and the model's ``head`` maps ``[embedding, mol_x]``
            (``[B, channels + D]``) to the outputs; D = 0 is the backbone alone, with the
            parameter names of models without descriptors.
    """

    def __init__(
        self,
        backbone: dict[str, Any],
        task_names: Sequence[str],
        task: str = "regression",
        scaler_mean: Sequence[float] | None = None,
        scaler_std: Sequence[float] | None = None,
        backbone_module: nn.Module | None = None,
        variance_head: bool = False,
        compile: bool = False,
        descriptor_dim: int = 0,
    ) -> None:
        super().__init__()
        if task not in TASKS:
            raise ValueError(f"task={task!r} is not supported; expected one of {TASKS}")
        num_tasks = len(task_names)
        self.task = task
        self.task_names = list(task_names)
        self.variance_head = _check_variance_head(variance_head, task)
        self.backbone_kwargs = {**backbone, "out_dim": num_tasks * (2 if variance_head else 1)}
        self.backbone = backbone_module or build_backbone(self.backbone_kwargs)
        # the layers are compiled (not forward), so the paths with descriptors and with noised
        # positions (denoising) use them too; kept out of the module tree, so state_dict()
        # holds the weights only once
        compiled = compile_backbone(self.backbone.forward_features) if compile else None
        self.__dict__["_compiled"] = compiled
        self.descriptor_dim = int(descriptor_dim)
        if self.descriptor_dim > 0:
            self.head = _descriptor_head(self.backbone, self.descriptor_dim)
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
            Standardised predictions or logits. Shape ``[B, T]``; ``[B, 2T]`` with the
            variance head (split by :meth:`split_output`). With descriptors the batch also
            carries ``mol_x [B, D]``.
        """
        if self._compiled is not None:  # model.compile
            out = self.readout(self.backbone.pool_features(self._compiled(batch), batch), batch)
        elif self.descriptor_dim > 0:
            out = self.readout(self.backbone.embed(batch), batch)
        else:
            out = self.backbone(batch)
        return out.reshape(out.shape[0], -1)

    def forward_features(self, batch) -> list:
        """Run the backbone's layers: node features per layer (compiled: ``model.compile``)."""
        if self._compiled is not None:
            return self._compiled(batch)
        return self.backbone.forward_features(batch)

    def readout(self, embedding: torch.Tensor, batch) -> torch.Tensor:
        """Map pooled embeddings ``[B, channels]`` to raw outputs ``[B, out]``.

        With descriptors the head reads ``[embedding, mol_x]``; otherwise the backbone's head.
        """
        if self.descriptor_dim == 0:
            return self.backbone.head(embedding)
        features = batch[MOL_FEATURES].to(embedding.dtype).reshape(embedding.shape[0], -1)
        return self.head(torch.cat([embedding, features], dim=-1))

    def scale_targets(self, y: torch.Tensor) -> torch.Tensor:
        """Standardise raw targets ``[B, T]`` (identity for classification)."""
        return (y - self.scaler_mean) / self.scaler_std

    def split_output(self, raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Split raw outputs into the standardised mean and the variance in scaled units.

        Args:
            raw: :meth:`forward` output. Shape ``[B, T]`` (``[B, 2T]`` with the variance head).

        Returns:
            ``(mean [B, T], variance [B, T])``; the variance is ``softplus(raw[:, T:]) +``
            :data:`MIN_VARIANCE` with the variance head and ``None`` without. It is the
            variance of the *standardised* target: in target units it is
            ``variance * scaler_std ** 2`` (see :meth:`predict_with_variance`).
        """
        if not self.variance_head:
            return raw, None
        t = len(self.task_names)
        return raw[:, :t], F.softplus(raw[:, t:].float()) + MIN_VARIANCE

    def to_output(self, raw: torch.Tensor) -> torch.Tensor:
        """Map raw outputs ``[B, T]`` to target units (regression) or probabilities."""
        raw = self.split_output(raw)[0].float()
        if self.task == "classification":
            return torch.sigmoid(raw)
        return raw * self.scaler_std + self.scaler_mean

    @torch.no_grad()
    def predict(self, batch) -> torch.Tensor:
        """Per-conformer predictions in output space. Shape ``[B, T]``."""
        return self.to_output(self(batch))

    @torch.no_grad()
    def predict_with_variance(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-conformer predictions and predicted variances in target units (variance head).

        Returns:
            ``(prediction [B, T], variance [B, T])`` with ``variance = var_scaled * scaler_std**2``.

        Raises:
            ValueError: When the model has no variance head.
        """
        if not self.variance_head:
            raise ValueError("predict_with_variance needs a model built with variance_head=True")
        raw = self(batch)
        variance = self.split_output(raw)[1]
        return self.to_output(raw), variance * self.scaler_std**2


def _descriptor_head(backbone: nn.Module, descriptor_dim: int) -> nn.Module:
    """Build the head of ``[embedding, descriptors]`` (``channels + D`` inputs).

    It has the sizes (``head_hidden``, ``out_dim``) and SiLU of the backbone's head, which
    is dropped.
    """
    config = backbone.config
    backbone.head = nn.Identity()  # forward() uses embed(); keep no parameter without gradient
    return nn.Sequential(
        nn.Linear(backbone.embed_dim + descriptor_dim, config["head_hidden"]),
        nn.SiLU(),
        nn.Linear(config["head_hidden"], config["out_dim"]),
    )


def _check_variance_head(variance_head: bool, task: str) -> bool:
    """Check that the variance head is asked for regression only (a probability is its own)."""
    if variance_head and task != "regression":
        raise ValueError(
            f"variance_head=True needs task='regression', got task={task!r}; a classifier's "
            "probability p already gives the variance p (1 - p)"
        )
    return bool(variance_head)
