"""Reliability battery: interrupted runs, damaged run directories, environment errors,
non-finite numbers, empty splits, concurrent cache use and planted pickles.

Every user-facing case asserts the exit status (2), that no traceback is printed and that
the one-line message names what is wrong. One tiny trained run (session fixture) serves all
cases; the commands run in-process where possible so that the battery stays fast.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import ROOT, compose_train, csv_overrides, run_cli
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf
from safetensors.torch import load_file, save_file

from molprop import artifacts
from molprop.cli import main as cli_main
from molprop.cli import predict as predict_cli
from molprop.cli import train as train_cli
from molprop.exceptions import InputError, MolpropError

EPOCHS = 3
KILL_AT_EPOCH = 1  # the killed run dies when epoch 1 starts: last.ckpt holds epoch 0


class Marker:
    """A pickle payload: unpickling it would create a file (code run from a file)."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def run_overrides(csv: Path, run_dir: Path, cache: Path) -> list[str]:
    return csv_overrides(csv, run_dir, cache) + [f"trainer.max_epochs={EPOCHS}"]


@pytest.fixture(scope="session")
def trained(tiny_csv, cache_dir, tmp_path_factory) -> Path:
    """One uninterrupted tiny run (3 epochs); cases copy it before damaging anything."""
    from molprop.train.run import train

    run_dir = tmp_path_factory.mktemp("reliability") / "run"
    train(compose_train(run_overrides(tiny_csv, run_dir, cache_dir)))
    assert (run_dir / "model" / "model.json").is_file()
    return run_dir


def copy_run(run: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "run"
    shutil.copytree(run, dest, ignore=shutil.ignore_patterns("logs"))
    return dest


def assert_one_line_error(status: int, err: str, *needles: str) -> None:
    """Exit status 2, no traceback, one error line naming every needle."""
    assert status == 2, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def predict_main(capsys, *args: str) -> tuple[int, str, str]:
    status = predict_cli.main([*map(str, args), "--quiet", "--workers", "1"])
    out = capsys.readouterr()
    return status, out.out, out.err


def train_main(capsys, *args: str) -> tuple[int, str]:
    """``molprop train ARGS`` in-process; Hydra's global state and log handlers are undone."""
    handlers, level = logging.root.handlers[:], logging.root.level
    GlobalHydra.instance().clear()
    try:
        status = train_cli.main([str(a) for a in args])
    except SystemExit as exit_info:  # --help
        status = exit_info.code
    finally:
        GlobalHydra.instance().clear()
        logging.root.handlers[:] = handlers
        logging.root.setLevel(level)
    return status, capsys.readouterr().err


# ----------------------------------------------------------------- interrupted runs
KILL_SCRIPT = """
import os, signal, sys
from lightning.pytorch.callbacks import Callback
import molprop.train.run as run

class Kill(Callback):
    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == {epoch}:
            os.kill(os.getpid(), signal.SIGKILL)

build = run.build_trainer
def build_with_kill(*args, **kwargs):
    trainer = build(*args, **kwargs)
    trainer.callbacks.append(Kill())
    return trainer
run.build_trainer = build_with_kill
from molprop.cli.train import main
sys.exit(main(sys.argv[1:]))
"""


def test_kill_9_then_resume_as_readme_says_matches_uninterrupted(
    trained, tiny_csv, cache_dir, tmp_path, capsys
):
    run_dir = tmp_path / "killed"
    script = tmp_path / "kill_train.py"
    script.write_text(KILL_SCRIPT.format(epoch=KILL_AT_EPOCH))
    overrides = run_overrides(tiny_csv, run_dir, cache_dir)
    overrides = [o for o in overrides if not o.startswith("paths.output_dir")]
    killed = run_cli([str(script), *overrides, f"hydra.run.dir={run_dir}"])
    assert killed.returncode == -9, killed.stderr[-2000:]
    last = run_dir / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["epoch"] == KILL_AT_EPOCH - 1
    assert not (run_dir / "model").exists()
    config_before = (run_dir / "config.yaml").read_bytes()
    outputs_before = set((ROOT / "outputs").glob("*/*")) if (ROOT / "outputs").is_dir() else set()

    # the README's command line, nothing else, through the entry point `python train.py` runs
    status, err = train_main(capsys, f"ckpt_path={last}")
    assert status == 0, err[-3000:]
    assert (run_dir / "config.yaml").read_bytes() == config_before
    assert not (run_dir / ".hydra" / "overrides.yaml").read_text().count("ckpt_path")
    after = set((ROOT / "outputs").glob("*/*")) if (ROOT / "outputs").is_dir() else set()
    assert after == outputs_before  # no stray run folder
    for name in ("checkpoints/last.ckpt", "checkpoints/best.ckpt"):
        mine = torch.load(run_dir / name, weights_only=True)
        ref = torch.load(trained / name, weights_only=True)
        assert mine["epoch"] == ref["epoch"]
        for key, value in ref["state_dict"].items():
            torch.testing.assert_close(mine["state_dict"][key], value)
    ref_w = load_file(trained / "model" / "member_0.safetensors")
    for key, value in load_file(run_dir / "model" / "member_0.safetensors").items():
        torch.testing.assert_close(value, ref_w[key])


def test_last_checkpoint_written_every_epoch_without_improvement(tiny_csv, cache_dir, tmp_path):
    from molprop.train.run import train

    extra = ["trainer.max_epochs=2", "+trainer.limit_train_batches=1", "optimizer.lr=0"]
    extra += ["optimizer.weight_decay=0"]
    train(compose_train(csv_overrides(tiny_csv, tmp_path, cache_dir) + extra))
    best = torch.load(tmp_path / "checkpoints" / "best.ckpt", weights_only=True)
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert best["epoch"] == 0  # validation never improved with lr=0 ...
    assert last["epoch"] == 1  # ... yet last.ckpt is the latest epoch


def test_resume_with_contradicting_override_is_one_line(trained, tmp_path, capsys):
    run = copy_run(trained, tmp_path)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    status, err = train_main(capsys, f"ckpt_path={run}/checkpoints/last.ckpt", "model=small")
    assert_one_line_error(status, err, "model.backbone", "contradict", str(run / "config.yaml"))
    after = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert {p: after[p] for p in before} == before  # nothing of the run was touched
    assert {p.name for p in set(after) - set(before)} <= {"train.log"}  # Hydra's log, appended


def test_resume_with_global_preset_compares_everything(trained, tmp_path, capsys):
    run = copy_run(trained, tmp_path)
    status, err = train_main(capsys, f"ckpt_path={run}/checkpoints/last.ckpt", "debug=overfit")
    assert_one_line_error(status, err, "contradict", "the preset debug changes settings")


def test_resume_in_python_with_other_model_refused(trained, tiny_csv, cache_dir, tmp_path):
    from molprop.train.run import train

    run = copy_run(trained, tmp_path)
    cfg = compose_train(
        run_overrides(tiny_csv, tmp_path / "x", cache_dir)
        + ["model=small", f"ckpt_path={run}/checkpoints/last.ckpt"]
    )
    with pytest.raises(InputError, match="model.backbone"):
        train(cfg)


@pytest.mark.parametrize(
    "damage, needle",
    [
        ("missing", "no such file"),
        ("truncated", "cannot be read safely"),
        ("pickle", "pickled objects"),
        ("no_config", "config.yaml' is missing"),
        ("target", "os.system"),
    ],
)
def test_resume_from_damaged_run_is_one_line(trained, tmp_path, capsys, damage, needle):
    run = copy_run(trained, tmp_path)
    last = run / "checkpoints" / "last.ckpt"
    marker = tmp_path / "pwned"
    if damage == "missing":
        last.unlink()
    elif damage == "truncated":
        last.write_bytes(last.read_bytes()[:200])
    elif damage == "pickle":
        torch.save({"state_dict": {}, "payload": Marker(marker)}, last)
    elif damage == "no_config":
        (run / "config.yaml").unlink()
    elif damage == "target":
        text = (run / "config.yaml").read_text()
        (run / "config.yaml").write_text(text.replace("torch.optim.AdamW", "os.system", 1))
    status, err = train_main(capsys, f"ckpt_path={last}")
    assert_one_line_error(status, err, needle)
    assert not marker.exists()


def test_checkpoint_write_is_atomic_on_full_disk(trained, tmp_path, monkeypatch):
    from molprop.lit.checkpoints import SafeCheckpointIO

    run = copy_run(trained, tmp_path)
    last = run / "checkpoints" / "last.ckpt"
    before = last.read_bytes()

    def full_disk(obj, path, *args, **kwargs):
        Path(path).write_bytes(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match="No space"):
        SafeCheckpointIO().save_checkpoint({"state_dict": {}}, last)
    assert last.read_bytes() == before
    assert sorted(p.name for p in last.parent.iterdir()) == ["best.ckpt", "last.ckpt"]


def test_model_write_is_atomic_and_refuses_non_finite(trained, tmp_path, monkeypatch):
    run = copy_run(trained, tmp_path)
    model = artifacts.load_model(run)[0]
    weights = run / "model" / "member_0.safetensors"
    before = weights.read_bytes()
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = float("nan")
    with pytest.raises(artifacts.ArtifactError, match="non-finite"):
        artifacts.save_member(run, 0, model)
    assert weights.read_bytes() == before

    def full_disk(state, path, metadata=None):
        Path(path).write_bytes(b"{}")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(artifacts, "save_file", full_disk)
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = 0.0
    with pytest.raises(OSError):
        artifacts.save_member(run, 0, model)
    assert weights.read_bytes() == before
    assert sorted(p.name for p in weights.parent.iterdir()) == [
        "member_0.safetensors",
        "model.json",
        "train_fingerprints.safetensors",
    ]


# ------------------------------------------------------------ damaged run directories
def _spec_edit(key: str, value):
    def edit(run: Path) -> None:
        path = run / "model" / "model.json"
        raw = json.loads(path.read_text())
        node = raw
        *parents, leaf = key.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
        path.write_text(json.dumps(raw))

    return edit


def _weights(transform):
    def edit(run: Path) -> None:
        path = run / "model" / "member_0.safetensors"
        path.write_bytes(transform(path.read_bytes()))

    return edit


def _symlink(name: str):
    def edit(run: Path) -> None:
        path = run / "model" / name
        real = run / f"real_{name}"
        path.rename(real)
        path.symlink_to(real)

    return edit


def _file_edit(name: str, change):
    def edit(run: Path) -> None:
        path = run / "model" / name
        path.write_bytes(change(path.read_bytes()))

    return edit


def _pickled(name: str):
    def edit(run: Path) -> None:
        torch.save({"w": Marker(run.parent / "pwned")}, run / "model" / name)

    return edit


def _nan_weights(run: Path) -> None:
    path = run / "model" / "member_0.safetensors"
    state = load_file(path)
    name = next(k for k, v in state.items() if v.is_floating_point())
    state[name] = torch.full_like(state[name], float("nan"))
    save_file(state, str(path))


def _pickled_weights(run: Path) -> None:
    torch.save({"w": Marker(run.parent / "pwned")}, run / "model" / "member_0.safetensors")


DAMAGED = {
    "truncated weights": (_weights(lambda b: b[: len(b) // 2]), "member_0.safetensors"),
    "empty weights": (_weights(lambda b: b""), "member_0.safetensors"),
    "text weights": (_weights(lambda b: b"not safetensors\n" * 10), "member_0.safetensors"),
    "pickled weights": (_pickled_weights, "member_0.safetensors"),
    "symlinked weights": (_symlink("member_0.safetensors"), "symbolic link"),
    "symlinked model.json": (_symlink("model.json"), "symbolic link"),
    "NaN weights": (_nan_weights, "non-finite"),
    "missing weights": (lambda r: (r / "model" / "member_0.safetensors").unlink(), "missing"),
    "num_members -1": (_spec_edit("num_members", -1), "num_members=-1"),
    "num_members 0": (_spec_edit("num_members", 0), "num_members=0"),
    "num_members '1'": (_spec_edit("num_members", "1"), "num_members='1'"),
    "num_members 2, one file": (_spec_edit("num_members", 2), "member_1.safetensors"),
    "model.json list": (
        lambda r: (r / "model" / "model.json").write_text("[1, 2]"),
        "JSON list",
    ),
    "model.json not UTF-8": (
        lambda r: (r / "model" / "model.json").write_bytes(b'{"task": "\xff\xfe"}'),
        "not UTF-8",
    ),
    "model.json not JSON": (
        lambda r: (r / "model" / "model.json").write_text("{task: regression"),
        "cannot read",
    ),
    "model.json missing": (lambda r: (r / "model" / "model.json").unlink(), "model.json"),
    "graph.cutoff text": (_spec_edit("graph.cutoff", "far"), "graph.cutoff='far'"),
    "graph.cutoff negative": (_spec_edit("graph.cutoff", -1.0), "graph.cutoff=-1.0"),
    "graph.max_neighbors 0": (_spec_edit("graph.max_neighbors", 0), "graph.max_neighbors=0"),
    "bagging.aggregate unknown": (_spec_edit("bagging.aggregate", "mode"), "bagging.aggregate"),
    "ensemble_aggregate unknown": (_spec_edit("ensemble_aggregate", "max"), "ensemble_aggregate"),
    "format_version": (_spec_edit("format_version", 99), "format_version=99"),
    "unknown field": (_spec_edit("colour", "red"), "incompatible"),
    "run dir missing": (lambda r: shutil.rmtree(r), "does not exist"),
    "truncated fingerprints": (
        _file_edit("train_fingerprints.safetensors", lambda b: b[: len(b) // 2]),
        "train_fingerprints.safetensors",
    ),
    "pickled fingerprints": (_pickled("train_fingerprints.safetensors"), "train_fingerprints"),
    "symlinked fingerprints": (_symlink("train_fingerprints.safetensors"), "train_fingerprints"),
    "fingerprints missing": (
        lambda r: (r / "model" / "train_fingerprints.safetensors").unlink(),
        "train_fingerprints.safetensors",
    ),
}


@pytest.mark.parametrize("case", list(DAMAGED))
def test_predict_damaged_run_dir_is_one_line(trained, tmp_path, capsys, case):
    damage, needle = DAMAGED[case]
    run = copy_run(trained, tmp_path)
    damage(run)
    status, out, err = predict_main(capsys, run, "--smiles", "CCO")
    assert_one_line_error(status, err, needle)
    if case != "run dir missing":
        assert "model" in err  # names the file under model/
    assert out == ""
    assert not (tmp_path / "pwned").exists()


# ----------------------------------------------------------------- environment errors
def test_predict_output_under_regular_file(trained, tmp_path, capsys):
    (tmp_path / "file.csv").write_text("x\n")
    status, _, err = predict_main(
        capsys, trained, "--smiles", "CCO", "--output", tmp_path / "file.csv" / "out.csv"
    )
    assert_one_line_error(status, err, "--output", "is a file, not a folder", "file.csv")


def test_predict_output_is_a_directory(trained, tmp_path, capsys):
    status, _, err = predict_main(capsys, trained, "--smiles", "CCO", "--output", tmp_path)
    assert_one_line_error(status, err, "is a directory", str(tmp_path))


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_predict_write_failure_leaves_no_file(trained, tmp_path, capsys, monkeypatch, code):
    import molprop.inference.stream as stream

    def failing(frames, handle):
        next(iter(frames)).to_csv(handle, index=False)
        raise OSError(code, os.strerror(code), str(handle.name))

    monkeypatch.setattr(stream, "write_predictions", failing)
    out = tmp_path / "pred.csv"
    status, _, err = predict_main(capsys, trained, "--smiles", "CCO", "--output", out)
    assert_one_line_error(status, err, os.strerror(code))
    assert list(tmp_path.iterdir()) == []  # neither pred.csv nor a partial file


def test_predict_unreadable_csv(trained, tmp_path, capsys, monkeypatch):
    import molprop.inference.stream as stream

    csv = tmp_path / "in.csv"
    csv.write_text("smiles\nCCO\n")

    def denied(path, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(stream, "check_csv", denied)
    status, _, err = predict_main(capsys, trained, "--input", csv)
    assert_one_line_error(status, err, "Permission denied", "in.csv")


def test_predict_cache_dir_under_regular_file(trained, tmp_path, capsys):
    (tmp_path / "cache").write_text("x\n")
    status, out, err = predict_main(
        capsys, trained, "--smiles", "CCO", "--cache-dir", tmp_path / "cache" / "sub"
    )
    assert_one_line_error(status, err, "--cache-dir", "is a file, not a folder")
    assert out == ""


def test_train_cache_dir_under_regular_file(tiny_csv, tmp_path, capsys):
    (tmp_path / "file").write_text("x\n")
    overrides = csv_overrides(tiny_csv, tmp_path / "run", tmp_path / "file" / "cache")
    overrides = [o for o in overrides if not o.startswith("paths.output_dir")]
    status, err = train_main(capsys, *overrides, f"hydra.run.dir={tmp_path / 'run'}")
    assert_one_line_error(status, err, "file")


@pytest.mark.parametrize("key", ["hydra.run.dir", "hydra.sweep.dir"])
def test_train_run_dir_under_regular_file(tmp_path, capsys, key):
    (tmp_path / "file").write_text("x\n")
    multirun = ["-m"] if key == "hydra.sweep.dir" else []
    status, err = train_main(capsys, *multirun, f"{key}={tmp_path / 'file' / 'run'}")
    assert_one_line_error(status, err, key, "is a file, not a folder")
    assert (tmp_path / "file").read_text() == "x\n"


# ---------------------------------------------------------------------- non-finite
def test_diverging_training_stops_with_message(tiny_csv, cache_dir, tmp_path, capsys):
    overrides = csv_overrides(tiny_csv, tmp_path, cache_dir) + [
        "optimizer.lr=1e30",
        "trainer.gradient_clip_val=null",
        "scheduler=none",
        "trainer.max_epochs=3",
    ]
    overrides = [o for o in overrides if not o.startswith("paths.output_dir")]
    status, err = train_main(capsys, *overrides, f"hydra.run.dir={tmp_path}")
    assert_one_line_error(status, err, "training loss is", "diverged")
    assert not (tmp_path / "model").exists()


def test_non_finite_loss_raises_training_error():
    from molprop.exceptions import TrainingError
    from molprop.lit.losses import check_finite_loss

    check_finite_loss(torch.tensor(0.5), 0, 0)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(TrainingError, match="epoch 3, step 7"):
            check_finite_loss(torch.tensor(bad), 3, 7)


def test_non_finite_prediction_is_a_row_error(trained):
    from molprop.inference.predictor import Predictor
    from molprop.inference.stream import predict

    predictor = Predictor.from_run_dir(trained)
    head = [p for p in predictor.models[0].parameters()][-1]
    with torch.no_grad():
        head.fill_(float("inf"))
    frame = predict(predictor, smiles=["CCO", "not a smiles"], workers=1)
    assert len(frame) == 2
    assert "non-finite" in frame.loc[0, "error"] and frame["logp"].isna().all()
    assert "non-finite" not in frame.loc[1, "error"] and frame.loc[1, "error"]


def test_early_stopping_checks_finite():
    cfg = compose_train([])
    assert cfg.callbacks.early_stopping.check_finite is True
    assert cfg.callbacks.last_checkpoint.monitor is None


def test_lightning_lines_printed_once():
    from molprop.train.run import _single_log_stream

    root = logging.getLogger()
    added = logging.StreamHandler()
    root.addHandler(added)  # what Hydra's job logging does
    try:
        _single_log_stream()
    finally:
        root.removeHandler(added)
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "torchmetrics"):
        logger = logging.getLogger(name)
        assert logger.handlers == [] and logger.propagate, name


def test_debug_presets_keep_matplotlib_quiet():
    cfg = compose_train(["debug=fdr"], return_hydra_config=True)
    assert cfg.hydra.job_logging.root.level == "DEBUG"
    assert cfg.hydra.job_logging.loggers.matplotlib.level == "WARNING"


# ---------------------------------------------------------- empty splits, all invalid
@pytest.fixture(scope="session")
def small_csvs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("small")
    frames = {
        "three": pd.DataFrame({"smiles": ["CCO", "CCCO", "CCCCO"], "logp": [0.1, 0.5, 0.9]}),
        "invalid": pd.DataFrame({"smiles": ["xx1", "C1CC", "Q"], "logp": [1.0, 2.0, 3.0]}),
    }
    paths = {}
    for name, frame in frames.items():
        paths[name] = root / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return paths


@pytest.mark.parametrize(
    "data, extra, needles",
    [
        ("tiny", ["data.split_sizes=[1,0,0]"], ["val/test split has 0", "non-zero"]),
        ("tiny", ["data.split_sizes=[0.5,0.5,0]"], ["test split has 0"]),
        ("tiny", ["data.split_sizes=[0.5,0,0.5]"], ["val split has 0"]),
        ("three", [], ["split has 0 molecules", "more molecules"]),
        ("invalid", [], ["none of the 3 molecules", "xx1"]),
        ("invalid", ["data.max_skipped_fraction=1.0"], ["none of the 3 molecules"]),
    ],
)
def test_empty_split_or_all_invalid_is_one_line(
    tiny_csv, small_csvs, cache_dir, tmp_path, capsys, data, extra, needles
):
    csv = tiny_csv if data == "tiny" else small_csvs[data]
    overrides = [
        o
        for o in csv_overrides(csv, tmp_path, cache_dir)
        if not o.startswith(("paths.output_dir", "data.split_sizes"))
    ]
    status, err = train_main(capsys, *overrides, *extra, f"hydra.run.dir={tmp_path}")
    assert_one_line_error(status, err, *needles)


def test_multirun_lists_failed_jobs_and_exits_2(tiny_csv, cache_dir, tmp_path, capsys):
    overrides = [
        o
        for o in csv_overrides(tiny_csv, tmp_path, cache_dir)
        if not o.startswith(("paths.output_dir", "data.split_sizes"))
    ]
    sweep = tmp_path / "sweep"
    status, err = train_main(
        capsys,
        "-m",
        *overrides,
        "data.split_sizes=[1,0,0],[0.5,0.5,0]",
        f"hydra.sweep.dir={sweep}",
    )
    assert status == 2 and "Traceback" not in err
    assert err.count("molprop train: error:") == 2  # both jobs ran, one line each
    summary = pd.read_csv(sweep / "sweep_summary.csv")
    assert summary["status"].tolist() == ["failed", "failed"]


# ------------------------------------------------------------ concurrent cache users
def test_concurrent_runs_share_one_cache(tmp_path):
    csv = tmp_path / "mols.csv"
    pd.DataFrame({"smiles": ["CCO", "CCN", "c1ccccc1O", "CC(=O)O", "CCCl", "OCCO"]}).to_csv(
        csv, index=False
    )
    cache = tmp_path / "cache"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    cmd = [sys.executable, "-m", "molprop", "conformers", str(csv), "--workers", "1"]
    cmd += ["--num-conformers", "3", "--cache-dir", str(cache), "--quiet"]
    procs = [
        subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    results = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    summaries = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in results]
    assert summaries[0]["molecules"] == summaries[1]["molecules"] == 6
    assert summaries[0]["conformers"] == summaries[1]["conformers"]
    assert not list(cache.rglob("*.tmp"))
    from molprop.chem.cache import ConformerCache

    assert len(list(ConformerCache(cache).root.rglob("*.conf"))) == 6


# ------------------------------------------------------------------- command line
def test_molprop_help_lists_subcommands(capsys):
    assert cli_main.main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("train", "predict", "conformers", "pretrain"):
        assert f"  {command}" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["frobnicate"],
        ["pretrain", "pretrain.corpus=/nonexistent/c.csv", "pretrain.table=/nonexistent/t.csv"],
        [],
    ],
)
def test_molprop_bad_subcommand_exits_2(capsys, argv):
    assert cli_main.main(argv) == 2
    err = capsys.readouterr()
    assert "Traceback" not in err.err


def test_molprop_predict_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main.main(["predict", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: molprop predict" in out and "--verbose" in out


def test_molprop_train_help_puts_examples_first(capsys):
    handlers = logging.root.handlers[:]
    GlobalHydra.instance().clear()
    with pytest.raises(SystemExit):
        train_cli.main(["--help"])
    GlobalHydra.instance().clear()
    logging.root.handlers[:] = handlers
    out = capsys.readouterr().out
    assert out.index("Examples") < out.index("Main config groups") < out.index("== Config")
    assert "outputs/<task_name>/<timestamp>" in out and "data=csv" in out


def test_python_m_entry_points_print_help():
    for module in ("molprop", "molprop.cli.predict", "molprop.predict"):
        args = ["-m", module, "--help"]
        result = run_cli(args, timeout=120)
        assert result.returncode == 0 and "usage:" in result.stdout, (args, result.stderr)


@pytest.mark.parametrize("switch", ["env", "flag"])
def test_debug_switch_shows_traceback(trained, tmp_path, capsys, monkeypatch, switch):
    args = [str(tmp_path / "missing"), "--smiles", "CCO"]
    if switch == "env":
        monkeypatch.setenv("MOLPROP_DEBUG", "1")
    else:
        monkeypatch.delenv("MOLPROP_DEBUG", raising=False)
        args.append("--verbose")
    status = predict_cli.main(args)
    monkeypatch.delenv("MOLPROP_DEBUG", raising=False)
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" in err and "does not exist" in err


def test_train_verbose_shows_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MOLPROP_DEBUG", raising=False)
    status, err = train_main(capsys, "--verbose", f"ckpt_path={tmp_path / 'gone.ckpt'}")
    monkeypatch.delenv("MOLPROP_DEBUG", raising=False)
    assert status == 2 and "Traceback" in err and "gone.ckpt" in err


def test_user_errors_are_molprop_or_os_errors():
    from molprop.cli.errors import USER_ERRORS

    assert issubclass(artifacts.ArtifactError, MolpropError) and OSError in USER_ERRORS


def test_resume_reads_settings_added_later_as_off(tmp_path):
    from molprop.train.resume import ResumePlan, restore_run_config

    cfg = compose_train([f"paths.output_dir={tmp_path}"])
    saved = OmegaConf.to_container(cfg, resolve=False)
    del saved["callbacks"]["ema"]  # a run written before callbacks.ema existed
    (tmp_path / "config.yaml").write_text(OmegaConf.to_yaml(saved))
    plan = ResumePlan(tmp_path, 0, str(tmp_path / "checkpoints" / "last.ckpt"))
    assert restore_run_config(cfg, plan, None).callbacks.ema.decay is None
    switched_on = compose_train([f"paths.output_dir={tmp_path}", "callbacks.ema.decay=0.9"])
    with pytest.raises(InputError, match=r"callbacks\.ema\.decay=0\.9 \(run: None\)"):
        restore_run_config(switched_on, plan, None)
