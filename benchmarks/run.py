"""Fill the benchmark matrix (``benchmarks/matrix.yaml``): one JSONL record per cell.

Each cell (dataset, split, setup, seed) without a record in ``--results`` is run the way a
user runs molprop: ``python train.py <overrides>`` into ``<work>/runs/<cell>/``, then
``python predict.py RUN --input <test SMILES> --cache-dir <the training cache>``, scored with
:func:`molprop.metrics.compute_metrics`. A training interrupted earlier continues through the
app's own ``ckpt_path=<run>/checkpoints/.../last.ckpt``; a finished one is not trained again.
The peer (chemprop 2.3.1) runs through ``../shared/tools/chemprop_baseline.py`` and its
test predictions are scored by the same function. Two runners on disjoint cells (say
``--seeds 0`` and ``--seeds 1``) can share one results file.

An ``uncertainty: true`` setup also scores both tools' calibrated uncertainty with the app's
scores (:mod:`benchmarks._uncertainty`: the std and intervals of a regression, the calibrated
probability of a classification; the columns per molecule in ``unc_arrays``); a molprop
record's ``unc_variants`` are its run's ``metrics.json`` ``uncertainty.parts``.

Usage (from the repository root)::

    OMP_NUM_THREADS=1 nice -n 19 python -m benchmarks.run [--datasets ...] [--splits ...] \
        [--setups ...] [--seeds ...] [--dry-run] [-- EXTRA_OVERRIDES ...]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from benchmarks._common import (
    DATA_DIR,
    DIGITS,
    REPO,
    RESULTS,
    WORK,
    append_jsonl,
    log,
    machine,
    read_jsonl,
    timed,
)
from benchmarks._uncertainty import molprop_unc, peer_unc, unc_variants
from molprop import artifacts
from molprop.columns import CONFORMER_STD_SUFFIX as CONFORMER_STD
from molprop.columns import ENSEMBLE_STD_SUFFIX as ENSEMBLE_STD
from molprop.metrics import compute_metrics, spread_error_spearman

MATRIX = REPO / "benchmarks" / "matrix.yaml"
PEERS = {"chemprop": REPO.parent / "shared" / "tools" / "chemprop_baseline.py"}
CHEMPROP_BIN = REPO / "benchmarks" / ".venv-chemprop" / "bin" / "chemprop"
KEY = ("dataset", "split", "setup", "seed")


def expand(matrix: dict, datasets=None, splits=None, setups=None, seeds=None) -> list[tuple]:
    """Cells ``(dataset, split, setup, seed)`` of the matrix, narrowed by the given lists.

    A setup's ``only`` limits it further; the order is split, dataset, seed, setup.
    """
    cells = []
    for split in splits or matrix["splits"]:
        for ds in datasets or matrix["datasets"]:
            for seed in seeds or matrix["seeds"]:
                for name in setups or matrix["setups"]:
                    only = matrix["setups"][name].get("only", {})
                    wanted = {"datasets": ds, "splits": split, "seeds": seed}
                    if all(v in only.get(k, [v]) for k, v in wanted.items()):
                        cells.append((ds, split, name, seed))
    return cells


def run_dir(work: Path, ds: str, split: str, setup: str, seed: int) -> Path:
    """Directory of the training run of a cell (shared by the setups that predict with it)."""
    return work / "runs" / f"{ds}_{split}_{setup}_s{seed}"


def train_overrides(matrix: dict, cell: tuple, work: Path, data_dir: Path) -> list[str]:
    """The ``train.py`` overrides of a molprop cell (that of its ``train_as`` setup)."""
    ds, split, setup, seed = cell
    name = matrix["setups"][setup].get("train_as", setup)
    return [
        f"experiment={ds}",
        f"data.split_key={split}",
        f"seed={seed}",
        f"paths.shared_data={data_dir}",
        f"paths.cache_dir={work / 'cache'}",
        f"hydra.run.dir={run_dir(work, ds, split, name, seed)}",
        *matrix.get("common", []),
        *matrix["datasets"][ds].get("train", []),
        *matrix["setups"][name].get("train", []),
    ]


def resume_checkpoint(run: Path) -> Path | None:
    """``last.ckpt`` of the latest ensemble member that saved one, else None."""
    ckpts = run / "checkpoints"
    members = sorted(ckpts.glob("member_*/last.ckpt"), key=lambda p: int(p.parent.name[7:]))
    found = [p for p in (ckpts / "last.ckpt", *members) if p.is_file()]
    return found[-1] if found else None


def train(cmd: list[str], run: Path) -> dict:
    """Train, or continue or skip an earlier attempt; timings summed over its segments.

    ``<run>/bench_segments.json`` lists each attempt's start and, once it ends, its timings.
    An attempt that was killed counts up to its newest checkpoint (the rest was redone).
    CPU seconds are known only for a training done in one segment.
    """
    state_path = run / "bench_segments.json"
    segments = json.loads(state_path.read_text()) if state_path.is_file() else []
    ckpt = resume_checkpoint(run)
    if not (run / "model" / "model.json").is_file():
        if ckpt is None:
            shutil.rmtree(run, ignore_errors=True)
            segments = []
        else:
            newest = max(p.stat().st_mtime for p in run.rglob("*.ckpt"))
            for seg in segments:
                seg.setdefault("wall_s", round(max(0.0, newest - seg["start"]), 2))
            cmd = [*cmd, f"ckpt_path={ckpt}"]
        run.mkdir(parents=True, exist_ok=True)
        segments.append({"start": time.time(), "command": " ".join(cmd)})
        state_path.write_text(json.dumps(segments))
        log(f"train {run.name}: {' '.join(cmd)}")
        segments[-1].update(timed(cmd, run.parent / f"{run.name}.train.log", len(segments) > 1))
        state_path.write_text(json.dumps(segments))
    only = segments[0] if len(segments) == 1 else {}
    return {
        "rc": segments[-1].get("rc", 0) if segments else 0,
        "train_wall_s": round(sum(s.get("wall_s", 0.0) for s in segments), 2),
        "train_cpu_s": only.get("cpu_s"),
        "train_other_cpu_s": only.get("other_cpu_s"),
        "train_segments": len(segments),
    }


def test_set(data_dir: Path, ds: str, split: str, target: str) -> pd.DataFrame:
    """The split's test rows (``smiles`` and the target), in split order."""
    frame = pd.read_csv(data_dir / f"{ds}.csv")
    idx = json.loads((data_dir / "splits" / f"{ds}.json").read_text())[split]["test"]
    return frame.iloc[idx][["smiles", target]].reset_index(drop=True)


def score(preds: pd.DataFrame, truth: pd.DataFrame, target: str, task: str) -> dict:
    """Test metrics and spread/error correlations of ``preds[target]`` (a ``task`` column).

    ``preds`` has one row per row of ``truth`` (:func:`test_set`), in the same order, and
    ``<target>_conformer_std`` / ``<target>_ensemble_std`` when the tool writes them (with
    both, ``predict_spearman_total`` ranks errors by their root sum of squares).
    """
    if len(preds) != len(truth):
        raise ValueError(f"{len(preds)} prediction rows for {len(truth)} test rows")
    ok = preds[target].notna().to_numpy()

    def col(frame: pd.DataFrame, name: str) -> torch.Tensor:  # shape [N_ok, 1]
        return torch.tensor(frame[name].to_numpy(dtype=float)[ok]).unsqueeze(1)

    pred, y = col(preds, target), col(truth, target)
    out = {f"test_{k}": round(v, 4) for k, v in compute_metrics(pred, y, task, [target]).items()}
    out["n_test"], out["n_unpredicted"] = len(truth), int((~ok).sum())
    # per molecule (NaN: not predicted), for paired bootstrap comparisons from the records
    out["per_molecule"] = {
        k: f[target].round(DIGITS).tolist() for k, f in (("y", truth), ("pred", preds))
    }
    kinds = (("conformer", CONFORMER_STD), ("ensemble", ENSEMBLE_STD))
    spreads = {kind: col(preds, target + sfx) for kind, sfx in kinds if target + sfx in preds}
    if len(spreads) == 2:  # does the conformer spread add to the ensemble's? (variances add)
        spreads["total"] = (spreads["conformer"] ** 2 + spreads["ensemble"] ** 2).sqrt()
    for kind, spread in spreads.items():
        rho = spread_error_spearman(pred, spread, y)
        out[f"predict_spearman_{kind}"] = None if math.isnan(rho) else rho
    return out


def app_metrics(run: Path, task: str) -> dict:
    """The run's own ``metrics.json`` and the figures the tables use from it."""
    m = json.loads((run / "metrics.json").read_text())
    name = "rmse" if task == "regression" else "roc_auc"
    spear = m["spread_error_spearman"]["test"]["bagged_ensemble"]
    params = artifacts.build_model(artifacts.load_spec(run)).parameters()
    return {
        "app_test": m["test"]["bagged_ensemble"][name],
        "app_test_member0": m["test"]["bagged_conformers"][name],
        "app_test_single": m["test"]["single_conformer"][name],
        "val_metric": m["optimized_metric"]["value"],
        "app_spearman_conformer": spear.get("conformer_std"),
        "app_spearman_ensemble": spear.get("ensemble_std"),
        "trainable_params": sum(p.numel() for p in params if p.requires_grad),
        "app_metrics": m,
    }


def code_version() -> str | None:
    """``git describe --always --dirty`` of the repository, else None."""
    cmd = ["git", "describe", "--always", "--dirty"]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True).stdout.strip() or None


def run_molprop(matrix: dict, cell: tuple, args: argparse.Namespace) -> dict | None:
    """Train (unless trained) and predict one molprop cell; its record, or None on failure."""
    ds, split, setup, seed = cell
    spec, target = matrix["setups"][setup], matrix["datasets"][ds]["target"]
    run = run_dir(args.work, ds, split, spec.get("train_as", setup), seed)
    cmd = [sys.executable, "train.py", *train_overrides(matrix, cell, args.work, args.data_dir)]
    rec = train([*cmd, *args.extra], run)
    if rec.pop("rc") != 0:
        log(f"FAILED training {run.name}; see {run.parent / (run.name + '.train.log')}")
        return None
    truth = test_set(args.data_dir, ds, split, target)
    inp, out = run / "bench_test_input.csv", run / f"bench_test_preds_{setup}.csv"
    truth[["smiles"]].to_csv(inp, index=False)
    pcmd = [sys.executable, "predict.py", str(run), "--input", str(inp), "--output", str(out)]
    pcmd += ["--cache-dir", str(args.work / "cache"), "--quiet", *spec.get("predict", [])]
    pr = timed(pcmd, run.parent / f"{run.name}.predict_{setup}.log")
    if pr["rc"] != 0:
        log(f"FAILED predict {run.name} ({setup}); see its predict_{setup}.log")
        return None
    task, preds = artifacts.load_spec(run).task, pd.read_csv(out)
    rec.update({"task": task, **score(preds, truth, target, task)})
    if spec.get("uncertainty"):  # the calibrated test columns
        rec.update({**molprop_unc(preds, truth[target], target), "unc_variants": unc_variants(run)})
    rec.update({"predict_wall_s": pr["wall_s"], "predict_other_cpu_s": pr["other_cpu_s"]})
    if "train_as" in spec:  # the training belongs to the other setup's cell
        rec = {k: v for k, v in rec.items() if not k.startswith("train_")}
    else:
        rec.update(app_metrics(run, task))
    rec["commands"] = [" ".join(cmd + args.extra), " ".join(pcmd)]
    shutil.rmtree(run / "checkpoints", ignore_errors=True)  # model/ holds the weights
    return {"tool": "molprop", "code": code_version(), **rec}


def run_peer(matrix: dict, cell: tuple, args: argparse.Namespace) -> dict | None:
    """Run the peer's baseline script on one cell and score its kept test predictions."""
    ds, split, setup, seed = cell
    spec, target = matrix["setups"][setup], matrix["datasets"][ds]["target"]
    keep = args.work / "peer" / f"{ds}_{split}_{setup}_s{seed}"
    shutil.rmtree(keep, ignore_errors=True)
    cmd = [sys.executable, str(PEERS[spec["peer"]]), ds, split, "--pytorch-seed", str(seed)]
    cmd += ["--data-dir", str(args.data_dir), "--chemprop", str(args.chemprop), "--keep", str(keep)]
    cmd += spec.get("args", [])
    log_path = keep.parent / f"{keep.name}.log"
    res = timed(cmd, log_path)
    if res["rc"] != 0:
        log(f"FAILED {spec['peer']} {keep.name}; see {log_path}")
        return None
    reported = json.loads([ln for ln in log_path.read_text().splitlines() if ln[:1] == "{"][-1])
    truth = test_set(args.data_dir, ds, split, target)
    rec = {"task": reported["task"]}
    rec.update(score(pd.read_csv(keep / "preds.csv"), truth, target, reported["task"]))
    timings = ("train_wall_s", "train_cpu_s", "train_other_cpu_s", "predict_wall_s")
    rec.update({k: reported.get(k) for k in (*timings, "predict_other_cpu_s")})
    rec.update({"peer_reported": reported, "commands": [" ".join(cmd)]})
    if spec.get("uncertainty"):
        fields, commands = peer_unc(keep, truth[target], target, reported["task"], args.chemprop)
        rec["commands"] += [" ".join(c) for c in commands]
        if fields is None:
            return None
        rec.update(fields)
    return {"tool": spec["peer"], "code": "chemprop 2.3.1", "total_wall_s": res["wall_s"], **rec}


def main(argv: list[str] | None = None) -> int:
    """Run every cell without a record; 1 when one failed, else 0."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--matrix", type=Path, default=MATRIX)
    for flag in ("datasets", "splits", "setups"):
        ap.add_argument(f"--{flag}", nargs="+")
    ap.add_argument("--seeds", nargs="+", type=int)
    ap.add_argument("--results", type=Path, default=RESULTS / "records.jsonl")
    ap.add_argument("--work", type=Path, default=WORK, help="run dirs, logs, conformer cache")
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR, help="<dataset>.csv and splits/")
    ap.add_argument("--chemprop", type=Path, default=CHEMPROP_BIN, help="chemprop executable")
    ap.add_argument("--dry-run", action="store_true", help="list the cells to run and stop")
    ap.add_argument("extra", nargs="*", help="extra train.py overrides (after --)")
    args = ap.parse_args(argv)
    args.work, args.data_dir = args.work.resolve(), args.data_dir.resolve()
    matrix = yaml.safe_load(args.matrix.read_text())
    for flag in ("datasets", "splits", "setups"):
        known = matrix[flag]
        if unknown := sorted(set(getattr(args, flag) or []) - set(known)):
            sys.exit(f"--{flag}: {unknown} not in {args.matrix}; it has {sorted(known)}")
    cells = expand(matrix, args.datasets, args.splits, args.setups, args.seeds)
    failures = 0
    for cell in cells:
        if any(tuple(r[k] for k in KEY) == cell for r in read_jsonl(args.results)):
            continue  # re-read each time: another runner may have filled it meanwhile
        if args.dry_run:
            print("would run", *cell)
            continue
        runner = run_peer if "peer" in matrix["setups"][cell[2]] else run_molprop
        if (rec := runner(matrix, cell, args)) is None:
            failures += 1
            continue
        key = dict(zip(KEY, cell, strict=True))
        append_jsonl(args.results, {**key, **rec, "machine": machine()})
        log(f"recorded {cell}: {json.dumps({k: v for k, v in rec.items() if 'test_' in k})}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
