"""GPU check: training-epoch time of the backbone on the CPU cores vs one GPU (not a test).

BENCHMARKS.md ("Backbone training step") describes it: epochs of ESOL graphs with
``model=small`` and ``model=default`` in each of ``SETUPS``, then the backbone symmetry and
equivalence tests on the device, within a 7.5-minute budget. ``python -m benchmarks.gpu_check
--device cpu --quick`` is a dry run on the CPU.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch_geometric.loader import DataLoader

from benchmarks._common import REPO, clock, sampling
from benchmarks.backbone_step import adamw_step, backbone, esol_graphs

# eager on the CPU cores; eager on the device in float32 and under bfloat16 autocast; torch.compile
# (inductor); CUDA graphs (torch.compile mode="reduce-overhead")
SETUPS = ("cpu", "eager_fp32", "eager_bf16", "compiled", "cudagraphs")
BUDGET_S = 450.0


def gpu_util() -> float | None:
    """GPU utilisation (%) from ``nvidia-smi``, None when it cannot say."""
    cmd = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout
        return float(out.split()[0])
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return None


def run_setup(name: str, setup: str, loader: list, epochs: int) -> dict:
    """Warm-up epoch (compiles) + median of ``epochs`` timed epochs of one model and setup."""
    from molprop.model import compile_backbone

    cuda = loader[0].x.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    model = forward = backbone(name, loader[0]).to(loader[0].x.device)
    if setup in ("compiled", "cudagraphs"):
        mode = {"mode": "reduce-overhead"} if setup == "cudagraphs" else {}
        forward = compile_backbone(model, **mode)
    if setup == "eager_bf16":

        def forward(batch):
            with torch.autocast(batch.x.device.type, dtype=torch.bfloat16):
                return model(batch).float()

    step = adamw_step(model, forward)

    def epoch():
        for batch in loader:
            step(batch)
        if cuda:
            torch.cuda.synchronize()

    first = clock(epoch)[0]
    with sampling(gpu_util if cuda else lambda: None, 0.1) as util:
        epoch_s = statistics.median(clock(epoch)[0] for _ in range(epochs))
    out = {"epoch_s": round(epoch_s, 4), "first_epoch_s": round(first, 2)}
    out["graphs_per_s"] = round(sum(b.num_graphs for b in loader) / out["epoch_s"], 1)
    out["gpu_util_pct"] = round(statistics.fmean(util), 1) if util else None
    if cuda:
        out["peak_mem_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def device_tests(device: str) -> dict:
    """The backbone symmetry + equivalence tests on ``device`` (pass/fail counts)."""
    tests = ["tests/test_nn_se3_transformer.py", "tests/test_nn_equivalence.py"]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--device", device]
    cmd += [*tests, "-k", "not compile"]
    wall, _, proc = clock(
        subprocess.run, cmd, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    tail = proc.stdout.strip().splitlines()[-1:] or [""]
    return {"rc": proc.returncode, "summary": tail[0], "wall_s": round(wall, 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--quick", action="store_true", help="dry run: 16 molecules, 1 epoch")
    p.add_argument("--no-tests", action="store_true")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        sys.exit("gpu_check: torch sees no CUDA device (use --device cpu --quick for a dry run)")
    molecules, batch_size, epochs = (16, 8, 1) if args.quick else (256, 32, 3)
    begin = time.perf_counter()
    graphs = esol_graphs(molecules)
    cpu = list(DataLoader(graphs, batch_size=batch_size))
    device = [b.to(args.device, non_blocking=True) for b in cpu]
    record = {
        "command": "python -m benchmarks.gpu_check " + " ".join(argv or sys.argv[1:]),
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "cpu_threads": torch.get_num_threads(), "torch": torch.__version__,
        "molecules": len(graphs), "batches": len(cpu), "results": {}, "skipped": [],
    }  # fmt: skip
    print(json.dumps({k: record[k] for k in ("device", "cpu_threads", "molecules")}), flush=True)
    results = record["results"]
    for name, setup in itertools.product(("small", "default"), SETUPS if cuda else SETUPS[:3]):
        if time.perf_counter() - begin > BUDGET_S:  # (the dry run on a CPU compiles nothing)
            record["skipped"].append(f"{name}/{setup}: time budget")
            continue
        try:
            res = run_setup(name, setup, cpu if setup == "cpu" else device, epochs)
        except Exception as err:  # a failing setup is a result, not the end of the run
            res = {"error": f"{type(err).__name__}: {str(err)[:300]}"}
        cpu_s = results.get(f"{name}/cpu", {}).get("epoch_s")
        if setup != "cpu" and cpu_s and res.get("epoch_s"):
            res["speedup_vs_cpu"] = round(cpu_s / res["epoch_s"], 2)
        results[f"{name}/{setup}"] = res
        print(name, setup, json.dumps(res), flush=True)
    if not args.no_tests and time.perf_counter() - begin < BUDGET_S:
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
