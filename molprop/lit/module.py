"""LightningModule: masked losses, per-molecule metrics on conformer-aggregated predictions."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau

from molprop.bagging import aggregate_conformers, molecule_targets
from molprop.lit.denoise import DenoiseConfig, build_denoise_head, noised_forward
from molprop.lit.finetune import build_optimizer, freeze_encoder
from molprop.lit.losses import check_finite_loss, loss_name, masked_gaussian_nll, masked_loss
from molprop.metrics import compute_metrics
from molprop.model import PropertyModel


def unique_conformers(parts: list[torch.Tensor]) -> list[torch.Tensor]:
    """Keep the first row of each (molecule, conformer) pair.

    Distributed samplers pad ranks with repeated samples; after all-gather those rows
    must count once.

    Args:
        parts: ``[pred [B, T], y [B, T], mol_idx [B], conf_idx [B]]``.

    Returns:
        The same tensors restricted to unique ``(mol_idx, conf_idx)`` rows.
    """
    mol_idx, conf_idx = parts[2], parts[3]
    if mol_idx.numel() == 0:
        return parts
    key = mol_idx * (int(conf_idx.max()) + 1) + conf_idx
    _, inverse = torch.unique(key, return_inverse=True)
    positions = torch.arange(key.numel(), device=key.device)
    first = torch.full((int(inverse.max()) + 1,), key.numel(), device=key.device, dtype=torch.long)
    first.scatter_reduce_(0, inverse, positions, reduce="amin")
    return [p[first] for p in parts]


class MolpropModule(pl.LightningModule):
    """Trains a :class:`PropertyModel`; validates/tests on per-molecule aggregated predictions.

    Args:
        backbone: ``SE3Transformer`` kwargs as a plain dict (``in_dim``, ``edge_dim`` set).
        task_names: Task (target column) names.
        task: ``"regression"`` or ``"classification"``.
        scaler_mean: Per-task training-target mean (regression).
        scaler_std: Per-task training-target std (regression).
        loss: ``"mse"`` or ``"smooth_l1"`` for regression; classification always uses BCE.
        aggregate: Conformer aggregation, ``"mean"`` or ``"median"``.
        monitor: Metric the plateau scheduler follows, e.g. ``"val/rmse"``.
        monitor_mode: ``"min"`` or ``"max"`` for ``monitor``.
        optimizer: Partial ``optimizer(params)``; AdamW(lr=``DEFAULT_LR``) when ``None``.
        scheduler: Partial ``scheduler(optimizer[, total_steps=...])`` or ``None``.
        backbone_module: Pre-built backbone (for tests); built from ``backbone`` otherwise.
        variance_head: Regression: also predict a per-conformer variance, trained with the
            Gaussian NLL (:func:`masked_gaussian_nll`) instead of ``loss``.
        compile: ``model.compile``: ``torch.compile`` the backbone (see ``molprop.model``).
        descriptor_dim: D molecule-level descriptors per graph (``mol_x``); 0 = none.
        denoise: ``model.denoise`` (:class:`~molprop.lit.denoise.DenoiseConfig`): with
            ``weight > 0`` training adds the coordinate-denoising loss; off by default.
        freeze_backbone: Train only the output head (and the denoise head).
        backbone_lr_scale: Factor on the learning rate of the backbone encoder.
    """

    def __init__(
        self,
        backbone: dict[str, Any],
        task_names: Sequence[str],
        task: str = "regression",
        scaler_mean: Sequence[float] | None = None,
        scaler_std: Sequence[float] | None = None,
        loss: str = "mse",
        aggregate: str = "mean",
        monitor: str = "val/rmse",
        monitor_mode: str = "min",
        optimizer: Callable | None = None,
        scheduler: Callable | None = None,
        backbone_module: nn.Module | None = None,
        variance_head: bool = False,
        compile: bool = False,
        descriptor_dim: int = 0,
        denoise: dict[str, Any] | None = None,
        freeze_backbone: bool = False,
        backbone_lr_scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["optimizer", "scheduler", "backbone_module"])
        self.loss_name = loss_name(task, loss, variance_head)
        self.model = PropertyModel(
            backbone,
            task_names,
            task,
            scaler_mean,
            scaler_std,
            backbone_module=backbone_module,
            variance_head=variance_head,
            compile=compile,
            descriptor_dim=descriptor_dim,
        )
        self.denoise_cfg = DenoiseConfig.from_dict(denoise)
        if self.denoise_cfg.enabled:
            self.denoise_head = build_denoise_head(self.model.backbone.config, self.denoise_cfg)
        if freeze_backbone:
            freeze_encoder(self)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self._epoch_outputs: dict[str, list[tuple[torch.Tensor, ...]]] = {"val": [], "test": []}

    def forward(self, batch) -> torch.Tensor:
        """Per-conformer predictions in output space. Shape ``[B, T]``."""
        return self.model.to_output(self.model(batch))

    def _loss(self, batch, raw: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        raw = self.model(batch) if raw is None else raw
        # at least float32: under bf16-mixed autocast raw is bfloat16, which would round targets
        dtype = torch.promote_types(raw.dtype, torch.float32)
        mean, variance = self.model.split_output(raw.to(dtype))
        target = self.model.scale_targets(batch.y.reshape(mean.shape).to(dtype))
        if variance is not None:
            return masked_gaussian_nll(mean, variance, target), raw
        return masked_loss(mean, target, self.loss_name), raw

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        """One optimisation step on a batch of conformers.

        Raises:
            TrainingError: When the loss is NaN or infinite (training diverged; the run stops
                instead of training, early-stopping and saving a broken model).
        """
        if self.denoise_cfg.enabled:
            raw, denoise = noised_forward(
                self.model.backbone,
                self.denoise_head,
                batch,
                self.denoise_cfg.sigma,
                readout=self.model.readout,
                features=self.model.forward_features,
            )
            loss, _ = self._loss(batch, raw)
            self.log("train/task_loss", loss, on_epoch=True, batch_size=batch.num_graphs)
            self.log("train/denoise_loss", denoise, on_epoch=True, batch_size=batch.num_graphs)
            loss = loss + self.denoise_cfg.weight * denoise
        else:
            loss, _ = self._loss(batch)
        check_finite_loss(loss, self.current_epoch, self.global_step)
        self.log(
            "train/loss",
            loss,
            on_step=True,
            on_epoch=True,
            prog_bar=True,
            batch_size=batch.num_graphs,
        )
        return loss

    def _eval_step(self, batch, stage: str, batch_idx: int = 0) -> None:
        loss, raw = self._loss(batch)
        self.log(f"{stage}/loss", loss, on_epoch=True, batch_size=batch.num_graphs, sync_dist=True)
        if self.denoise_cfg.enabled:
            # fixed noise per batch index, so validation denoise losses compare across epochs
            generator = torch.Generator().manual_seed(batch_idx)
            _, denoise = noised_forward(
                self.model.backbone,
                self.denoise_head,
                batch,
                self.denoise_cfg.sigma,
                generator,
                features=self.model.forward_features,
            )
            self.log(f"{stage}/denoise_loss", denoise, batch_size=batch.num_graphs, sync_dist=True)
        out = self.model.to_output(raw.float()).detach()
        y = batch.y.reshape(out.shape).float()
        self._epoch_outputs[stage].append((out, y, batch.mol_idx.long(), batch.conf_idx.long()))

    def validation_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Store per-conformer predictions; metrics come at epoch end, per molecule."""
        self._eval_step(batch, "val", batch_idx)

    def test_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Store per-conformer predictions; metrics come at epoch end, per molecule."""
        self._eval_step(batch, "test", batch_idx)

    def on_validation_epoch_end(self) -> None:
        """Aggregate the epoch's conformer predictions per molecule and log metrics."""
        self._log_epoch_metrics("val")

    def on_test_epoch_end(self) -> None:
        """Aggregate the epoch's conformer predictions per molecule and log metrics."""
        self._log_epoch_metrics("test")

    def _gather_rows(self, tensor: torch.Tensor) -> torch.Tensor:
        """All-gather tensors whose first dimension differs between ranks."""
        size = torch.tensor([tensor.shape[0]], device=self.device)
        sizes = self.all_gather(size).reshape(-1)
        padded = tensor.new_zeros((int(sizes.max()), *tensor.shape[1:]))
        padded[: tensor.shape[0]] = tensor
        gathered = self.all_gather(padded)
        return torch.cat([gathered[r, : int(n)] for r, n in enumerate(sizes)])

    def collect_epoch(self, stage: str) -> tuple[torch.Tensor, ...] | None:
        """Concatenate (and under DDP gather and de-duplicate) one stage's outputs.

        Returns:
            ``(pred [B, T], y [B, T], mol_idx [B], conf_idx [B])`` over all ranks, or ``None``.
        """
        outputs = self._epoch_outputs[stage]
        self._epoch_outputs[stage] = []
        if outputs:
            parts = [torch.cat(column) for column in zip(*outputs, strict=True)]
        else:
            t = len(self.model.task_names)
            parts = [
                torch.zeros(0, t),
                torch.zeros(0, t),
                torch.zeros(0).long(),
                torch.zeros(0).long(),
            ]
            parts = [p.to(self.device) for p in parts]
        if self.trainer is not None and self.trainer.world_size > 1:
            parts = [self._gather_rows(p) for p in parts]
            parts = unique_conformers(parts)
        return parts if parts[0].numel() else None

    def _log_epoch_metrics(self, stage: str) -> None:
        parts = self.collect_epoch(stage)
        if parts is None:
            return
        pred, y, mol_idx, _ = parts
        agg = aggregate_conformers(pred, mol_idx, self.hparams.aggregate)
        target = molecule_targets(y, mol_idx, agg.mol_idx)
        metrics = compute_metrics(agg.prediction, target, self.model.task, self.model.task_names)
        for name, value in metrics.items():
            self.log(f"{stage}/{name}", value, prog_bar="/" not in name, sync_dist=True)

    def configure_optimizers(self):
        """AdamW (or the configured partial; encoder lr scaled) plus an optional scheduler."""
        optimizer = build_optimizer(
            self, self.optimizer_factory, float(self.hparams.backbone_lr_scale)
        )
        if self.scheduler_factory is None:
            return optimizer
        params = inspect.signature(self.scheduler_factory).parameters
        kwargs: dict[str, Any] = {}
        if "total_steps" in params:
            kwargs["total_steps"] = int(self.trainer.estimated_stepping_batches)
        if "mode" in params and getattr(self.scheduler_factory, "keywords", {}).get("mode") is None:
            kwargs["mode"] = self.hparams.monitor_mode
        scheduler = self.scheduler_factory(optimizer, **kwargs)
        if isinstance(scheduler, ReduceLROnPlateau):
            config = {"scheduler": scheduler, "monitor": self.hparams.monitor, "interval": "epoch"}
        else:
            config = {"scheduler": scheduler, "interval": "step"}
        return {"optimizer": optimizer, "lr_scheduler": config}
