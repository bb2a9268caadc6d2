"""CUDA check: the backbone symmetry tests on a GPU, then training and prediction timed on the
GPU against the same machine's CPU cores, side by side in one run.

Training runs ``python train.py`` (the default ChEMBL Free-Wilson data, 1017 molecules, and the
default small model) for a short and a long number of epochs in three setups: the CPU cores
(``trainer=cpu``), the GPU in float32, and the GPU preset ``trainer=gpu`` (bf16-mixed). The
difference divided by the extra epochs is the time of one epoch, without process start,
conformer loading and testing. The conformer cache is filled by an untimed first run.
Prediction scores the same SMILES with the GPU float32 run on ``cuda`` and on ``cpu``, and the
two outputs must agree.

Usage (from the repo root, on a machine with a CUDA GPU)::

    python benchmarks/gpu_check.py [--epochs 2 6] [--work DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS, command_line, log, machine  # noqa: E402

TRAIN_QUIET = ["trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]
#: trainer setups compared: name -> Hydra overrides
SETUPS = {
    "cpu": ["trainer=cpu"],
    "gpu_fp32": ["trainer=gpu", "trainer.precision=32-true"],
    "gpu_bf16": ["trainer=gpu"],
}
#: float32 predictions on CUDA and on the CPU must agree to this (absolute, target units)
PREDICT_TOL = 1e-3


def run(cmd: list[str], log_path: Path, timeout: float = 300) -> tuple[int, float]:
    """Run ``cmd`` in the repo root, output to ``log_path``; returns (exit status, wall seconds)."""
    start = time.perf_counter()
    with open(log_path, "w") as fh:
        proc = subprocess.run(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout)
    wall = time.perf_counter() - start
    log(f"rc={proc.returncode} {wall:.1f} s: {' '.join(cmd[1:4])} ... (log {log_path.name})")
    return proc.returncode, wall


def symmetry_tests(work: Path) -> dict:
    """``pytest tests/test_nn_se3_transformer.py --device cuda``: pass/skip/fail counts."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--device", "cuda"]
    cmd.append("tests/test_nn_se3_transformer.py")
    rc, wall = run(cmd, work / "pytest_cuda.log")
    text = (work / "pytest_cuda.log").read_text()
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|error)", text)}
    return {"command": " ".join(cmd[1:]), "rc": rc, "wall_s": round(wall, 1), **counts}


def train(
    work: Path, setup: str, epochs: int, cache: Path, tag: str = "", extra: tuple = ()
) -> dict:
    """One ``train.py`` run in trainer ``setup`` (a key of SETUPS) for ``epochs`` epochs."""
    run_dir = work / f"train_{setup}_{epochs}{tag}"
    cmd = [
        sys.executable,
        "train.py",
        *SETUPS[setup],
        *extra,
        f"trainer.max_epochs={epochs}",
        f"paths.cache_dir={cache}",
        f"paths.output_dir={run_dir}",
        f"hydra.run.dir={run_dir}",
        *TRAIN_QUIET,
    ]
    rc, wall = run(cmd, run_dir.with_suffix(".log"))
    out = {"setup": setup, "epochs": epochs, "rc": rc, "wall_s": round(wall, 2)}
    metrics = run_dir / "metrics.json"
    if rc == 0 and metrics.exists():
        test = json.loads(metrics.read_text())["test"]
        out["test_rmse_bagged"] = round(test["bagged_conformers"]["rmse"], 4)
    return out


def predict(
    work: Path, run_dir: Path, inp: Path, device: str, cache: Path
) -> tuple[dict, pd.DataFrame]:
    """Score the SMILES CSV ``inp`` with ``predict.py --device device`` (warm cache)."""
    out_csv = work / f"predict_{device}.csv"
    cmd = [sys.executable, "predict.py", str(run_dir), "--input", str(inp)]
    cmd += ["--output", str(out_csv), "--device", device, "--cache-dir", str(cache), "--quiet"]
    rc, wall = run(cmd, work / f"predict_{device}.log")
    frame = pd.read_csv(out_csv) if rc == 0 and out_csv.exists() else pd.DataFrame()
    return {"device": device, "rc": rc, "wall_s": round(wall, 2), "rows": len(frame)}, frame


def per_epoch(runs: list[dict], setup: str, short: int, long: int) -> float | None:
    """Seconds per epoch in ``setup``: wall-time difference of the long and short runs."""
    wall = {r["epochs"]: r["wall_s"] for r in runs if r["setup"] == setup and r["rc"] == 0}
    if short in wall and long in wall:
        return round((wall[long] - wall[short]) / (long - short), 3)
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the checks and timings; write the JSON record; exit 1 if any check failed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", nargs=2, type=int, default=[2, 6], metavar=("SHORT", "LONG"))
    ap.add_argument("--work", type=Path, default=REPO / "benchmarks" / "work" / "gpu_check")
    ap.add_argument("--out", type=Path, default=RESULTS / "gpu_check.json")
    ap.add_argument(
        "--big-model",
        metavar="NAME",
        help="also time conf/model/NAME on the CPU and the GPU (float32), 1 and 3 epochs",
    )
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        sys.exit("gpu_check.py: torch sees no CUDA device")
    args.work.mkdir(parents=True, exist_ok=True)
    cache = args.work / "cache"
    record = {"command": command_line(), "machine": machine()}
    record["machine"].update(
        gpu=torch.cuda.get_device_name(0), torch=torch.__version__, cuda=torch.version.cuda
    )
    print(f"command: {record['command']}\nmachine: {json.dumps(record['machine'])}", flush=True)
    record["symmetry_tests"] = symmetry_tests(args.work)
    short, long = args.epochs
    record["cache_fill"] = train(args.work, "cpu", 1, cache, "_cache_fill")  # fills the cache
    runs = [train(args.work, s, e, cache) for e in (short, long) for s in SETUPS]
    record["train"] = runs
    record["epoch_s"] = {s: per_epoch(runs, s, short, long) for s in SETUPS}
    best, inp = args.work / f"train_gpu_fp32_{long}", args.work / "predict_input.csv"
    pd.read_csv(best / "test_predictions.csv")[["smiles"]].to_csv(inp, index=False)
    gpu, pred_gpu = predict(args.work, best, inp, "cuda", cache)
    cpu, pred_cpu = predict(args.work, best, inp, "cpu", cache)
    record["predict"] = [gpu, cpu]
    # every numeric output column: predictions, conformer spread, conformer count
    cols = [c for c in pred_gpu.select_dtypes("number").columns if c in pred_cpu]
    if cols and len(pred_gpu) == len(pred_cpu):
        diff = (pred_gpu[cols] - pred_cpu[cols]).abs().max().max()
        record["predict_max_abs_diff_cuda_vs_cpu"] = float(diff)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps({k: record[k] for k in ("symmetry_tests", "epoch_s", "predict")}), flush=True)
    if args.big_model:  # after the record is saved: a time limit here loses only this part
        tag, extra = f"_{args.big_model}", (f"model={args.big_model}",)
        big = [train(args.work, s, e, cache, tag, extra) for e in (1, 3) for s in SETUPS]
        record["big_model"] = {"model": args.big_model, "train": big}
        record["big_model"]["epoch_s"] = {s: per_epoch(big, s, 1, 3) for s in SETUPS}
        args.out.write_text(json.dumps(record, indent=1) + "\n")
        print(json.dumps(record["big_model"]["epoch_s"]), flush=True)
    tests = record["symmetry_tests"]
    ok = tests["rc"] == 0 and tests.get("passed", 0) > 0
    ok = ok and all(r["rc"] == 0 for r in runs + [gpu, cpu])
    return 0 if ok and record.get("predict_max_abs_diff_cuda_vs_cpu", 1.0) <= PREDICT_TOL else 1


if __name__ == "__main__":
    raise SystemExit(main())
