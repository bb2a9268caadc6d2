"""``train(cfg)``: the one place where Hydra configs become objects.

Trains ``ensemble.size`` members (seed ``seed + m``, optional bootstrap), keeps each
member's best checkpoint on the aggregated validation metric, then evaluates
single-conformer, conformer-bagged and ensemble-bagged test metrics and writes the
run directory described in :mod:`molprop.artifacts`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from hydra.utils import instantiate
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from molprop import artifacts
from molprop.exceptions import InputError
from molprop.lit.module import MolpropModule
from molprop.metrics import monitor_for
from molprop.model import PropertyModel
from molprop.train.outputs import write_outputs

log = logging.getLogger(__name__)


@dataclass
class Member:
    """A trained ensemble member and the objects that produced it."""

    model: PropertyModel
    datamodule: Any
    trainer: pl.Trainer


def _plain(node: Any) -> Any:
    """Resolve a config node into plain Python containers (``None`` stays ``None``)."""
    return OmegaConf.to_container(node, resolve=True) if node is not None else None


def resume_plan(cfg: DictConfig) -> tuple[Path | None, int, str | None]:
    """Interpret ``ckpt_path``: the run directory to continue, member index and checkpoint.

    ``<run>/checkpoints/last.ckpt`` resumes member 0 of ``<run>``;
    ``<run>/checkpoints/member_<m>/last.ckpt`` resumes member ``m`` (earlier members are
    reloaded from their best checkpoints). Other paths resume member 0 in a new run dir.

    Raises:
        InputError: When ``ckpt_path`` is given but is not a file.
    """
    ckpt = cfg.get("ckpt_path")
    if not ckpt:
        return None, 0, None
    path = Path(str(ckpt)).expanduser().resolve()
    if not path.is_file():
        raise InputError(
            f"ckpt_path={ckpt!r}: no such file; expected a checkpoint such as "
            "<run_dir>/checkpoints/last.ckpt"
        )
    parent, member = path.parent, 0
    if parent.name.startswith("member_") and parent.name[len("member_") :].isdigit():
        member, parent = int(parent.name[len("member_") :]), parent.parent
    root = parent.parent if parent.name == "checkpoints" else None
    return root, member, str(path)


def build_datamodule(cfg: DictConfig, run: artifacts.RunDir, member: int):
    """Instantiate and set up the datamodule of one ensemble member."""
    from molprop.data.datamodule import MolDataModule

    seed = int(cfg.seed) + member
    dm = MolDataModule(
        data=_plain(cfg.data),
        conformers=_plain(cfg.conformers),
        graph=_plain(cfg.graph),
        bagging=_plain(cfg.bagging),
        batch_size=int(cfg.batch_size),
        loader_workers=int(cfg.loader_workers),
        seed=seed,
        cache_dir=cfg.paths.cache_dir,
        run_dir=str(run.root) if member == 0 and rank_zero_only.rank == 0 else None,
        bootstrap_seed=seed if cfg.ensemble.bootstrap else None,
        data_dir=cfg.paths.data_dir,
        progress=bool(cfg.trainer.get("enable_progress_bar", True)),
    )
    dm.prepare_data()
    dm.setup("fit")
    return dm


def build_module(cfg: DictConfig, dm, monitor: tuple[str, str]) -> MolpropModule:
    """Build the LightningModule from plain config values and the data's dimensions."""
    backbone = _plain(cfg.model.backbone)
    backbone.update(in_dim=int(dm.atom_dim), edge_dim=int(dm.edge_dim))
    scheduler = instantiate(cfg.scheduler) if cfg.get("scheduler") else None
    return MolpropModule(
        backbone=backbone,
        task_names=list(dm.task_names),
        task=dm.task,
        scaler_mean=[float(v) for v in dm.scaler_mean],
        scaler_std=[float(v) for v in dm.scaler_std],
        loss=cfg.model.loss,
        aggregate=cfg.bagging.aggregate,
        monitor=monitor[0],
        monitor_mode=monitor[1],
        optimizer=instantiate(cfg.optimizer),
        scheduler=scheduler,
        compile=bool(cfg.model.get("compile", False)),
    )


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
            extra = {
                "dirpath": str(run.member_checkpoints(member, size)),
                "monitor": monitor[0],
                "mode": monitor[1],
            }
        elif target.endswith("EarlyStopping"):
            extra = {"monitor": monitor[0], "mode": monitor[1]}
        callbacks.append(instantiate(node, **extra))
    loggers = [
        instantiate(node, save_dir=str(run.root), version=f"member_{member}" if size > 1 else None)
        for node in (cfg.get("logger") or {}).values()
        if node and "_target_" in node
    ]
    return instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, default_root_dir=str(run.root)
    )


def _best_state(trainer: pl.Trainer, fallback_dir: Path | None = None) -> dict | None:
    """State dict of the best checkpoint (``None`` when none was written, e.g. fast_dev_run)."""
    path = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if not path and fallback_dir is not None and (fallback_dir / "best.ckpt").is_file():
        path = str(fallback_dir / "best.ckpt")
    if not path or not Path(path).is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def train_member(
    cfg: DictConfig,
    run: artifacts.RunDir,
    member: int,
    ckpt_path: str | None = None,
    skip_fit: bool = False,
) -> Member:
    """Train (or, with ``skip_fit``, reload) ensemble member ``member``; best weights loaded."""
    pl.seed_everything(int(cfg.seed) + member, workers=True)
    dm = build_datamodule(cfg, run, member)
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
    """Drop Lightning's own console handlers when the root logger (Hydra) already prints."""
    if logging.getLogger().handlers:
        for name in ("lightning.pytorch", "lightning.fabric"):
            logger = logging.getLogger(name)
            logger.handlers.clear()
            # Lightning turns propagation off when it is imported before Hydra's logging set-up
            logger.propagate = True


def train(cfg: DictConfig) -> float:
    """Train an ensemble of ``ensemble.size`` models and write the run directory.

    Args:
        cfg: Composed config of ``conf/train.yaml``.

    Returns:
        The optimised metric: the monitored validation metric of the bagged ensemble
        (NaN on non-zero DDP ranks).
    """
    _single_log_stream()
    resume_root, resume_member, ckpt_path = resume_plan(cfg)
    run = artifacts.RunDir(resume_root or Path(str(cfg.paths.output_dir)))
    if rank_zero_only.rank == 0:
        run.root.mkdir(parents=True, exist_ok=True)
        run.config.write_text(OmegaConf.to_yaml(cfg, resolve=True))
    members = []
    for m in range(int(cfg.ensemble.size)):
        members.append(
            train_member(
                cfg,
                run,
                m,
                ckpt_path=ckpt_path if m == resume_member else None,
                skip_fit=ckpt_path is not None and m < resume_member,
            )
        )
    if not members[0].trainer.is_global_zero:
        return float("nan")
    return write_outputs(cfg, run, members)
