"""GPU check: training-epoch time of the backbone on the CPU cores vs one GPU, in one run.

Not a test. A fixed "epoch" of real molecules (the first ``--molecules`` ESOL SMILES, one
ETKDG conformer each, ``conf/graph/default.yaml`` graphs, batches of ``--batch-size``) is
trained (forward + backward + AdamW) with ``conf/model/small.yaml`` and
``conf/model/default.yaml`` in each setup, timed over ``--epochs`` epochs after one warm-up
epoch (which also compiles): ``cpu`` (eager float32, all cores); ``eager_fp32`` /
``eager_bf16`` (eager on the device, float32 / autocast bfloat16); ``compiled``
(``torch.compile``, inductor, dynamic shapes); ``cudagraphs`` (``mode="reduce-overhead"``).

GPU utilisation is sampled with ``nvidia-smi`` during the timed epochs. Then the backbone
symmetry and equivalence tests run with ``--device cuda``. A total time budget (default 7.5
min) skips what is left and says so. ``--device cpu --quick`` is a dry run of every code path
on the CPU (tiny epoch, no compile unless ``--compile-on-cpu``).

Usage (repo root)::

    python -m benchmarks.gpu_check [--out benchmarks/results/gpu_check_backbone.json]
    python -m benchmarks.gpu_check --device cpu --quick
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from benchmarks._common import REPO, Sampler
from benchmarks.backbone_step import esol_graphs, model_kwargs

SETUPS = ("cpu", "eager_fp32", "eager_bf16", "compiled", "cudagraphs")


def gpu_util() -> float | None:
    """GPU utilisation (%) from ``nvidia-smi``, None when it cannot say."""
    cmd = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
    try:
        return float(
            subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout.split()[0]
        )
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return None


def batches(graphs, batch_size: int, device: str):
    from torch_geometric.data import Batch

    starts = range(0, len(graphs), batch_size)
    out = [Batch.from_data_list(graphs[i : i + batch_size]) for i in starts]
    return [b.to(device, non_blocking=True) for b in out]


def run_setup(name: str, setup: str, data, device: str, epochs: int) -> dict:
    """Warm-up epoch (compiles) + ``epochs`` timed epochs of one model and setup."""
    from molprop.model import compile_backbone
    from molprop.nn import SE3Transformer

    dev = "cpu" if setup == "cpu" else device
    cuda = dev.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    loader = data["cpu"] if dev == "cpu" else data["device"]
    kwargs = dict(model_kwargs(name), in_dim=loader[0].x.shape[1])
    kwargs.update(edge_dim=loader[0].edge_attr.shape[1], out_dim=1)
    torch.manual_seed(0)
    model = SE3Transformer(**kwargs).to(dev)
    forward = model
    if setup in ("compiled", "cudagraphs"):
        mode = "reduce-overhead" if setup == "cudagraphs" else None
        forward = compile_backbone(model, **({"mode": mode} if mode else {}))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    bf16 = setup == "eager_bf16"
    autocast = torch.autocast(dev.split(":")[0], dtype=torch.bfloat16) if bf16 else None

    def epoch():
        for batch in loader:
            opt.zero_grad(set_to_none=True)
            with autocast or contextlib.nullcontext():
                loss = forward(batch).float().square().mean()
            loss.backward()
            opt.step()
        if cuda:
            torch.cuda.synchronize()

    start = time.perf_counter()
    epoch()
    warm = time.perf_counter() - start
    times = []
    with Sampler(gpu_util if cuda else lambda: None, 0.1) as util:
        for _ in range(epochs):
            start = time.perf_counter()
            epoch()
            times.append(time.perf_counter() - start)
    out = {"epoch_s": round(statistics.median(times), 4), "first_epoch_s": round(warm, 2)}
    out["graphs_per_s"] = round(sum(b.num_graphs for b in loader) / out["epoch_s"], 1)
    out["gpu_util_pct"] = round(statistics.fmean(util.samples), 1) if util.samples else None
    if cuda:
        out["peak_mem_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def device_tests(device: str) -> dict:
    """The backbone symmetry + equivalence tests on ``device`` (pass/fail counts)."""
    tests = ["tests/test_nn_se3_transformer.py", "tests/test_nn_equivalence.py"]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--device", device]
    start = time.perf_counter()
    proc = subprocess.run(
        [*cmd, *tests, "-k", "not compile"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    tail = proc.stdout.strip().splitlines()[-1:] or [""]
    return {
        "rc": proc.returncode,
        "summary": tail[0],
        "wall_s": round(time.perf_counter() - start, 1),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--models", nargs="+", default=["small", "default"])
    p.add_argument("--setups", nargs="+", default=list(SETUPS), choices=SETUPS)
    p.add_argument("--molecules", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=3, help="timed epochs (median)")
    p.add_argument("--budget-s", type=float, default=450.0, help="skip what is left after this")
    p.add_argument("--quick", action="store_true", help="dry run: 16 molecules, 1 epoch")
    p.add_argument("--compile-on-cpu", action="store_true", help="with --device cpu")
    p.add_argument("--no-tests", action="store_true")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("gpu_check: torch sees no CUDA device (use --device cpu --quick for a dry run)")
    if args.quick:
        args.molecules, args.batch_size, args.epochs = 16, 8, 1
    begin = time.perf_counter()
    graphs = esol_graphs(args.molecules)
    data = {"cpu": batches(graphs, args.batch_size, "cpu")}
    data["device"] = batches(graphs, args.batch_size, args.device)
    record = {
        "command": "python -m benchmarks.gpu_check " + " ".join(argv or sys.argv[1:]),
        "device": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu",
        "cpu_threads": torch.get_num_threads(), "torch": torch.__version__,
        "molecules": len(graphs), "batches": len(data["cpu"]), "results": {}, "skipped": [],
    }  # fmt: skip
    print(json.dumps({k: record[k] for k in ("device", "cpu_threads", "molecules")}), flush=True)
    for name in args.models:
        for setup in args.setups:
            compiled = setup in ("compiled", "cudagraphs")
            if setup == "cudagraphs" and not args.device.startswith("cuda"):
                continue  # CUDA graphs need CUDA
            if compiled and args.device == "cpu" and not args.compile_on_cpu:
                continue
            if time.perf_counter() - begin > args.budget_s:
                record["skipped"].append(f"{name}/{setup}: time budget")
                continue
            try:
                res = run_setup(name, setup, data, args.device, args.epochs)
            except Exception as err:  # a failing setup is a result, not the end of the run
                res = {"error": f"{type(err).__name__}: {str(err)[:300]}"}
            record["results"][f"{name}/{setup}"] = res
            print(name, setup, json.dumps(res), flush=True)
        cpu = record["results"].get(f"{name}/cpu", {}).get("epoch_s")
        for setup in SETUPS[1:]:
            res = record["results"].get(f"{name}/{setup}", {})
            if cpu and res.get("epoch_s"):
                res["speedup_vs_cpu"] = round(cpu / res["epoch_s"], 2)
    if not args.no_tests and time.perf_counter() - begin < args.budget_s:
        record["device_tests"] = device_tests(args.device)
    record["wall_s"] = round(time.perf_counter() - begin, 1)
    record["load_average"] = os.getloadavg()[0]
    print(json.dumps(record, indent=1), flush=True)
    if args.out:
        args.out.write_text(json.dumps(record, indent=1) + "\n")
    failed = any("error" in r for r in record["results"].values())
    return 1 if failed or record.get("device_tests", {}).get("rc", 0) else 0


if __name__ == "__main__":
    raise SystemExit(main())
