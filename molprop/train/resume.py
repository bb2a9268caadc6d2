"""Resuming a run: continue in its directory with its own saved ``config.yaml``.

``ckpt_path=<run>/checkpoints/last.ckpt`` (or ``.../member_<m>/last.ckpt``) restores
``<run>/config.yaml``. Only the settings in :data:`RESUMABLE` may change on a resume (train
longer, other devices, quieter console); any other override that differs from the saved
config is an error naming it, because it would silently train a different model. The run's
files are never rewritten by the resume itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from molprop.exceptions import InputError
from molprop.paths import project_root
from molprop.run_dir import RunDir, resume_target

#: Config keys (and key prefixes) that a resume may change.
RESUMABLE = (
    "ckpt_path",
    "paths",
    "hydra",
    "tags",
    "task_name",
    "loader_workers",
    "conformers.num_workers",
    "trainer.max_epochs",
    "trainer.max_steps",
    "trainer.max_time",
    "trainer.accelerator",
    "trainer.devices",
    "trainer.num_nodes",
    "trainer.strategy",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
    "trainer.log_every_n_steps",
)

#: Modules whose callables a restored config may name in ``_target_`` (what the project's
#: ``conf/`` uses); anything else in a saved config.yaml would run code from a file.
ALLOWED_TARGETS = ("lightning.pytorch.", "torch.optim.", "molprop.")


_ABSENT = object()

#: Settings added after runs could have been written. A saved config.yaml without one reads it
#: from its group's ``conf/<group>/default.yaml`` (where it is off), so such runs still resume.
ADDED_LATER = ("callbacks.ema",)


def _group_default(key: str) -> Any:
    """Value of ``key`` in its group's ``default.yaml`` (``callbacks.ema``: ``conf/callbacks``)."""
    group, _, rest = key.partition(".")
    return OmegaConf.select(OmegaConf.load(project_root() / "conf" / group / "default.yaml"), rest)


@dataclass(frozen=True)
class ResumePlan:
    """What ``ckpt_path`` asks for.

    Attributes:
        root: The run directory to continue (``None``: a checkpoint outside a run layout).
        member: Ensemble member the checkpoint belongs to.
        ckpt_path: Resolved checkpoint path, ``None`` when not resuming.
    """

    root: Path | None = None
    member: int = 0
    ckpt_path: str | None = None


def resume_plan(cfg: DictConfig) -> ResumePlan:
    """Interpret ``cfg.ckpt_path`` (see :func:`molprop.run_dir.resume_target`)."""
    ckpt = cfg.get("ckpt_path")
    if not ckpt:
        return ResumePlan()
    root, member, path = resume_target(str(ckpt))
    return ResumePlan(root, member, str(path))


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted leaf keys of plain nested dicts (lists are leaves)."""
    if not isinstance(node, dict):
        return {prefix: node}
    flat: dict[str, Any] = {}
    for key, value in node.items():
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _under(key: str, prefixes: Iterable[str]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def override_keys(overrides: Sequence[str]) -> list[str]:
    """Config keys set by Hydra overrides (``model=tiny`` -> ``model``, ``+a.b=1`` -> ``a.b``)."""
    keys = []
    for item in overrides:
        key = item.split("=", 1)[0].lstrip("+~").split("@", 1)[0].replace("/", ".")
        if key:
            keys.append(key)
    return keys


def _load_saved(run: RunDir) -> DictConfig:
    if not run.config.is_file():
        raise InputError(
            f"cannot resume: '{run.config}' is missing; expected the config.yaml that "
            "`molprop train` writes at the start of every run"
        )
    try:
        saved = OmegaConf.load(run.config)
    except Exception as err:  # yaml or omegaconf errors of a damaged file
        raise InputError(f"cannot resume: '{run.config}' is not a readable config: {err}") from err
    if not isinstance(saved, DictConfig):
        raise InputError(f"cannot resume: '{run.config}' is not a mapping of settings")
    for key in ADDED_LATER:
        parent = key.rpartition(".")[0]
        if OmegaConf.select(saved, key, default=_ABSENT) is _ABSENT and isinstance(
            OmegaConf.select(saved, parent, default=None), DictConfig
        ):
            OmegaConf.update(saved, key, _group_default(key), force_add=True)
    for key, value in _flatten(OmegaConf.to_container(saved, resolve=False)).items():
        if key.endswith("_target_") and not str(value).startswith(ALLOWED_TARGETS):
            raise InputError(
                f"cannot resume: '{run.config}' sets {key}={value!r}; expected a callable "
                f"from {', '.join(ALLOWED_TARGETS)} (restored configs run no other code)"
            )
    return saved


def restore_run_config(
    cfg: DictConfig, plan: ResumePlan, overrides: Sequence[str] | None = None
) -> DictConfig:
    """Return the run's saved config with only the :data:`RESUMABLE` changes of ``cfg``.

    Args:
        cfg: The composed config of the resume call.
        plan: :func:`resume_plan` of ``cfg`` (``plan.root`` set).
        overrides: The command-line overrides (Hydra); only these are compared with the saved
            config. ``None`` (a config built in Python): every key of ``cfg`` is compared.

    Returns:
        The config to train with: saved settings, ``ckpt_path`` and ``paths.output_dir`` of
        the run, allowed changes from ``cfg``.

    Raises:
        InputError: When ``config.yaml`` is missing or damaged, or an override contradicts it.
    """
    run = RunDir(plan.root)
    saved = _load_saved(run)
    probe = cfg.copy()  # values derived from the run directory (logger save_dir) then agree
    OmegaConf.update(probe, "paths.output_dir", str(run.root), force_add=True)
    new = _flatten(OmegaConf.to_container(probe, resolve=True))
    old = _flatten(OmegaConf.to_container(saved, resolve=True))
    asked = None if overrides is None else override_keys(overrides)
    presets = [
        k
        for k in asked or []
        if OmegaConf.select(cfg, k, default=_ABSENT) is _ABSENT and not _under(k, RESUMABLE)
    ]
    if presets:
        # a group of the _global_ package (experiment=, debug=) sets keys all over the config:
        # compare everything (re-passing the run's own overrides still agrees)
        asked = None
    changed = sorted(
        k
        for k in set(new) | set(old)
        if new.get(k) != old.get(k) and (asked is None or _under(k, asked))
    )
    conflicts = [k for k in changed if not _under(k, RESUMABLE)]
    if conflicts:
        shown = "; ".join(f"{k}={new.get(k)!r} (run: {old.get(k)!r})" for k in conflicts[:4])
        more = f" and {len(conflicts) - 4} more" if len(conflicts) > 4 else ""
        if presets:
            more += f" (the preset {', '.join(presets)} changes settings across the config)"
        raise InputError(
            f"ckpt_path={plan.ckpt_path}: resuming restores '{run.config}', and these "
            f"settings contradict it: {shown}{more}; drop them (only "
            "trainer.max_epochs, devices and console settings may change on a resume) or start "
            "a new run without ckpt_path"
        )
    restored = OmegaConf.merge(saved, {})
    for key in changed:
        if _under(key, ("paths", "hydra")):
            continue
        OmegaConf.update(restored, key, new.get(key), force_add=True)
    OmegaConf.update(restored, "ckpt_path", plan.ckpt_path, force_add=True)
    OmegaConf.update(restored, "paths.output_dir", str(run.root), force_add=True)
    return restored
