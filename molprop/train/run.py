"""``train(cfg)``: the one place where Hydra configs become objects.

Trains ``ensemble.size`` members (seed ``seed + m``, optional bootstrap), keeps each
member's best checkpoint on the aggregated validation metric, then evaluates
single-conformer, conformer-bagged and ensemble-bagged test metrics and writes the
run directory described in :mod:`molprop.run_dir`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from hydra.utils import instantiate
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from molprop import artifacts
from molprop.atomic import write_text_atomic
from molprop.chem.config import ConformerConfig
from molprop.data.config import BaggingConfig, DataConfig, FeaturesConfig, GraphConfig
from molprop.exceptions import InputError
from molprop.lit.checkpoints import SafeCheckpointIO, load_checkpoint_file
from molprop.lit.module import MolpropModule
from molprop.lit.timing import EpochTimer
from molprop.metrics import monitor_for
from molprop.model import PropertyModel
from molprop.run_dir import LAST_CHECKPOINT
from molprop.train.init_from import FinetuneConfig, load_backbone
from molprop.train.outputs import write_outputs
from molprop.train.preflight import check_splits
from molprop.train.resume import ResumePlan, restore_run_config, resume_plan
from molprop.train.uncertainty import check_uncertainty

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """The typed settings of one run, built once from the Hydra config (:func:`build_settings`)."""

    data: DataConfig
    conformers: ConformerConfig
    graph: GraphConfig
    bagging: BaggingConfig
    features: FeaturesConfig = field(default_factory=FeaturesConfig)


def build_settings(cfg: DictConfig) -> Settings:
    """Build the typed ``data``/``conformers``/``graph``/``bagging`` configs of a run.

    Raises:
        InputError: For an unknown key or an invalid value in one of these groups.
    """
    return Settings(
        data=DataConfig.from_dict(_plain(cfg.data)),
        conformers=ConformerConfig.from_dict(_plain(cfg.conformers)),
        graph=GraphConfig.from_dict(_plain(cfg.graph)),
        bagging=BaggingConfig.from_dict(_plain(cfg.bagging)),
        features=FeaturesConfig.from_dict(_plain(cfg.get("features"))),
    )


@dataclass
class Member:
    """A trained ensemble member and the objects that produced it."""

    model: PropertyModel
    datamodule: Any
    trainer: pl.Trainer


def _plain(node: Any) -> Any:
    """Resolve a config node into plain Python containers (``None`` stays ``None``)."""
    return OmegaConf.to_container(node, resolve=True) if node is not None else None


def build_datamodule(
    cfg: DictConfig, settings: Settings, run: artifacts.RunDir, member: int, write: bool = True
):
    """Instantiate and set up the datamodule of one ensemble member.

    ``write=False`` (a resume of a run that has them) keeps ``splits.json`` and ``skipped.csv``
    as they are.
    """
    from molprop.data.datamodule import MolDataModule

    seed = int(cfg.seed) + member
    dm = MolDataModule(
        data=settings.data,
        conformers=settings.conformers,
        graph=settings.graph,
        bagging=settings.bagging,
        batch_size=int(cfg.batch_size),
        loader_workers=int(cfg.loader_workers),
        seed=seed,
        cache_dir=cfg.paths.cache_dir,
        run_dir=str(run.root) if write and member == 0 and rank_zero_only.rank == 0 else None,
        bootstrap_seed=seed if cfg.ensemble.bootstrap else None,
        data_dir=cfg.paths.data_dir,
        progress=bool(cfg.trainer.enable_progress_bar),
        features=settings.features,
    )
    dm.prepare_data()
    dm.setup("fit")
    check_splits(dm)
    return dm


def build_module(cfg: DictConfig, dm, monitor: tuple[str, str]) -> MolpropModule:
    """Build the LightningModule from plain config values and the data's dimensions.

    Raises:
        InputError: For an invalid ``uncertainty`` group, or variance parts it asks for that
            this run will not estimate (checked here, before any training).
    """
    # a config.yaml of a run from before the option has no model.variance_head
    variance_head = bool(cfg.model.variance_head)
    check_uncertainty(cfg, dm.task, variance_head)
    backbone = _plain(cfg.model.backbone)
    backbone.update(in_dim=int(dm.atom_dim), edge_dim=int(dm.edge_dim))
    scheduler = instantiate(cfg.scheduler) if cfg.get("scheduler") else None
    finetune = FinetuneConfig.from_model_cfg(cfg.model)
    module = MolpropModule(
        backbone=backbone,
        task_names=list(dm.task_names),
        task=dm.task,
        scaler_mean=[float(v) for v in dm.scaler_mean],
        scaler_std=[float(v) for v in dm.scaler_std],
        loss=cfg.model.loss,
        aggregate=dm.bagging_cfg.aggregate,
        monitor=monitor[0],
        monitor_mode=monitor[1],
        optimizer=instantiate(cfg.optimizer),
        scheduler=scheduler,
        compile=bool(cfg.model.compile),
        descriptor_dim=int(dm.descriptor_dim),
        variance_head=variance_head,
        denoise=_plain(cfg.model.get("denoise")),
        freeze_backbone=finetune.freeze_backbone,
        backbone_lr_scale=finetune.backbone_lr_scale,
    )
    if finetune.init_from is not None:
        load_backbone(module.model, finetune.init_from)
    return module


def build_trainer(
    cfg: DictConfig, run: artifacts.RunDir, member: int, monitor: tuple[str, str]
) -> pl.Trainer:
    """Instantiate callbacks, loggers and the Trainer of one ensemble member."""
    size = int(cfg.ensemble.size)
    callbacks = []
    for node in (cfg.get("callbacks") or {}).values():
        if not node or "_target_" not in node:
            continue
        target = str(node._target_)
        extra: dict[str, Any] = {}
        if target.endswith("ModelCheckpoint"):
            extra = {"dirpath": str(run.member_checkpoints(member, size))}
            # the every-epoch last.ckpt saver keeps monitor=None; best.ckpt follows the metric
            if node.get("filename") != Path(LAST_CHECKPOINT).stem:
                extra.update(monitor=monitor[0], mode=monitor[1])
        elif target.endswith("EarlyStopping"):
            extra = {"monitor": monitor[0], "mode": monitor[1]}
        callback = instantiate(node, **extra)
        if callback is not None:  # a factory may switch itself off (callbacks.ema.decay=null)
            callbacks.append(callback)
    callbacks.append(EpochTimer())  # metrics.json "timing"; not a setting
    loggers = [
        instantiate(node, save_dir=str(run.root), version=f"member_{member}" if size > 1 else None)
        for node in (cfg.get("logger") or {}).values()
        if node and "_target_" in node
    ]
    return instantiate(
        cfg.trainer,
        callbacks=callbacks,
        logger=loggers or False,
        default_root_dir=str(run.root),
        plugins=[SafeCheckpointIO()],
    )


def _best_state(trainer: pl.Trainer, fallback_dir: Path | None = None) -> dict | None:
    """State dict of the best checkpoint (``None`` when none was written, e.g. fast_dev_run)."""
    path = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if not path and fallback_dir is not None and (fallback_dir / "best.ckpt").is_file():
        path = str(fallback_dir / "best.ckpt")
    if not path or not Path(path).is_file():
        return None
    return load_checkpoint_file(path)["state_dict"]


def train_member(
    cfg: DictConfig,
    settings: Settings,
    run: artifacts.RunDir,
    member: int,
    ckpt_path: str | None = None,
    skip_fit: bool = False,
    write: bool = True,
) -> Member:
    """Train (or, with ``skip_fit``, reload) ensemble member ``member``; best weights loaded."""
    pl.seed_everything(int(cfg.seed) + member, workers=True)
    dm = build_datamodule(cfg, settings, run, member, write=write)
    monitor = monitor_for(cfg.monitor, dm.task)
    module = build_module(cfg, dm, monitor)
    trainer = build_trainer(cfg, run, member, monitor)
    ckpt_dir = run.member_checkpoints(member, int(cfg.ensemble.size))
    if skip_fit:
        log.info("member %d already trained; loading %s", member, ckpt_dir / "best.ckpt")
    else:
        trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path)
    state = _best_state(trainer, ckpt_dir if skip_fit else None)
    if state is not None:
        module.load_state_dict(state)
    elif skip_fit:
        raise InputError(f"cannot resume: '{ckpt_dir / 'best.ckpt'}' of member {member} is missing")
    return Member(module.model.cpu().eval(), dm, trainer)


def _single_log_stream() -> None:
    """Drop Lightning's own console handlers when the root logger (Hydra) already prints.

    ``lightning``, ``lightning.pytorch``, ``lightning.fabric`` and ``torchmetrics`` each attach
    a stderr handler at import; with Hydra's root handler every line would appear twice.
    """
    if logging.getLogger().handlers:
        for name in ("lightning", "lightning.pytorch", "lightning.fabric", "torchmetrics"):
            logger = logging.getLogger(name)
            logger.handlers.clear()
            # Lightning turns propagation off when it is imported before Hydra's logging set-up
            logger.propagate = True


def prepare_run(
    cfg: DictConfig, overrides: list[str] | None = None
) -> tuple[DictConfig, artifacts.RunDir, ResumePlan]:
    """Return the config to train with, its run directory and resume plan; write config.yaml.

    A fresh run writes its resolved config. A resume (``ckpt_path``) restores the run's own
    ``config.yaml`` (:func:`molprop.train.resume.restore_run_config`) and writes nothing.
    """
    plan = resume_plan(cfg)
    if plan.root is not None:
        cfg = restore_run_config(cfg, plan, overrides)
    run = artifacts.RunDir(plan.root or Path(str(cfg.paths.output_dir)))
    if rank_zero_only.rank == 0 and plan.root is None:
        run.root.mkdir(parents=True, exist_ok=True)
        write_text_atomic(run.config, OmegaConf.to_yaml(cfg, resolve=True))
    return cfg, run, plan


def train(cfg: DictConfig, overrides: list[str] | None = None) -> float:
    """Train an ensemble of ``ensemble.size`` models and write the run directory.

    Args:
        cfg: Composed config of ``conf/train.yaml``.
        overrides: The command-line overrides (``molprop train`` passes Hydra's); on a resume
            only these are checked against the run's saved config. ``None``: all of ``cfg``.

    Returns:
        The optimised metric: the monitored validation metric of the bagged ensemble
        (NaN on non-zero DDP ranks).

    Raises:
        MolpropError: Bad input or settings, empty splits, a contradicting resume, a
            diverged (non-finite) training loss.
    """
    _single_log_stream()
    cfg, run, plan = prepare_run(cfg, overrides)
    settings = build_settings(cfg)
    keep_files = plan.root is not None and run.splits.is_file()
    members = []
    for m in range(int(cfg.ensemble.size)):
        members.append(
            train_member(
                cfg,
                settings,
                run,
                m,
                ckpt_path=plan.ckpt_path if m == plan.member else None,
                skip_fit=plan.ckpt_path is not None and m < plan.member,
                write=not keep_files,
            )
        )
    if not members[0].trainer.is_global_zero:
        return float("nan")
    return write_outputs(cfg, run, members)
