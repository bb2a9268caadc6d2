"""Training speed of the backbone: current ``molprop.nn`` vs its frozen copy; CPU vs GPU.

Not a test; BENCHMARKS.md ("Backbone training step") has the batch, the measures and the
commands. Current code and reference (``tests/reference_se3``, same weights) are timed
interleaved in one process. ``--gpu-check`` times epochs of ESOL graphs in each of ``SETUPS``
and runs the backbone symmetry and equivalence tests on ``--device``, in a 7.5-minute budget.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from rdkit import Chem
from rdkit.Chem import AllChem
from torch.utils.flop_counter import FlopCounterMode
from torch_geometric.data import Batch
from torch_geometric.loader import DataLoader

from benchmarks._common import ESOL, REPO, clock, sampling, serve, spawn, time_steps, train_step
from molprop.data.featurize import MolFeaturizer
from molprop.model import compile_backbone
from molprop.nn import SE3Transformer

MODULE = "benchmarks.backbone_step"  # the memory workers run this module
MODELS = ("small", "default")
GRAPH = REPO / "conf" / "graph" / "default.yaml"
# --gpu-check: eager on the CPU cores; eager on the device in float32 and under bfloat16
# autocast; torch.compile (inductor); CUDA graphs (torch.compile mode="reduce-overhead")
SETUPS = ("cpu", "eager_fp32", "eager_bf16", "compiled", "cudagraphs")
BUDGET_S = 450.0


def model_kwargs(name: str) -> dict:
    """Backbone kwargs of ``conf/model/NAME.yaml`` (``defaults: [default]`` merged)."""
    conf = yaml.safe_load((REPO / "conf" / "model" / f"{name}.yaml").read_text())
    base = model_kwargs("default") if "default" in (conf.get("defaults") or []) else {}
    cutoff = float(yaml.safe_load(GRAPH.read_text())["cutoff"])  # model.backbone's ${graph.cutoff}
    return {**base, **conf["backbone"], "cutoff": cutoff}


def esol_graphs(num: int = 32) -> list:
    """PyG graphs of the first ``num`` ESOL SMILES, one ETKDG conformer (seed 0) each."""
    graphs, graph_cfg = [], yaml.safe_load(GRAPH.read_text())
    for smiles in pd.read_csv(ESOL)["smiles"][:num]:
        mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
        if AllChem.EmbedMolecule(mol, randomSeed=0) != 0:
            continue  # a molecule RDKit cannot embed is left out (none of the first 32)
        feat = MolFeaturizer(mol, graph_cfg)
        graphs.append(feat.graph(mol.GetConformer().GetPositions(), np.zeros(1), 0, 0))
    return graphs


def backbone(name: str, batch, cls=None):
    """``SE3Transformer`` (or ``cls``) of ``conf/model/NAME.yaml`` sized for ``batch``, seed 0."""
    kwargs = dict(model_kwargs(name), in_dim=batch.x.shape[1], edge_dim=batch.edge_attr.shape[1])
    torch.manual_seed(0)
    return (cls or SE3Transformer)(**kwargs, out_dim=1)


def build_pair(name: str, batch):
    """(current, reference) backbones of ``conf/model/NAME.yaml`` with identical weights."""
    if str(REPO / "tests") not in sys.path:  # the frozen copy is the package tests/reference_se3
        sys.path.insert(0, str(REPO / "tests"))
    new = backbone(name, batch)
    ref = backbone(name, batch, importlib.import_module("reference_se3").SE3Transformer)
    ref.load_state_dict(new.state_dict())
    return new, ref


def adamw_step(model, forward=None):
    """:func:`benchmarks._common.train_step` of ``model`` with AdamW (lr 1e-4)."""
    return train_step(torch.optim.AdamW(model.parameters(), lr=1e-4), forward or model)


def step_flops(model, batch) -> int:
    """FLOPs of one forward + backward (``torch.utils.flop_counter``)."""
    with FlopCounterMode(display=False) as counter:
        model(batch).square().mean().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def matmul_peak(size: int = 2048, repeats: int = 5) -> float:
    """float32 GFLOP/s per core of a ``size x size`` matmul: FLOPs / median CPU seconds."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    cpu_s = time_steps({"matmul": lambda: a @ b}, repeats)["matmul"][1]
    return 2 * size**3 / cpu_s / 1e9


def memory_worker(cfg: dict) -> dict:
    """Peak RSS growth (MiB) over 3 steps of one model and implementation (a subprocess).

    The peak (``VmHWM``) is reset after setup (``/proc/self/clear_refs``), so imports and
    RDKit embedding do not mask the training steps' peak.
    """

    def status_kib(field: str) -> int:
        lines = Path("/proc/self/status").read_text().splitlines()
        return int(next(ln for ln in lines if ln.startswith(field + ":")).split()[1])

    batch = Batch.from_data_list(esol_graphs())
    model = build_pair(cfg["model"], batch)[cfg["impl"] == "reference"]
    step = adamw_step(model)
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS to the current RSS
    base = status_kib("VmRSS")
    for _ in range(3):
        step(batch)
    return {"peak_rss_growth_mib": round((status_kib("VmHWM") - base) / 1024, 1)}


def compare(name: str, batch, threads: int, repeats: int, compiled: bool, flops: dict, peak):
    """Interleaved step times of reference, current (and compiled) code of model ``name``.

    From the ``flops`` of a step and the matmul ``peak``: GFLOP/s per core and share of peak.
    """
    torch.set_num_threads(threads)
    new, ref = build_pair(name, batch)
    steps, out = {"reference": adamw_step(ref), "current": adamw_step(new)}, {}
    if compiled:
        steps["compiled"] = adamw_step(compile_backbone(build_pair(name, batch)[0]))
        out["compile_s"] = round(clock(steps["compiled"], batch)[0], 2)  # first call compiles
    for key, (wall, cpu) in time_steps(steps, repeats, batch).items():
        cpu_ms = round(1e3 * cpu, 1)
        gflops = flops["reference" if key == "reference" else "current"] / cpu_ms / 1e6
        gps, share = round(batch.num_graphs / wall, 1), round(gflops / peak, 3)
        out[key] = {"step_ms": round(1e3 * wall, 1), "graphs_per_s": gps, "cpu_ms": cpu_ms,
                    "gflops_per_core": round(gflops, 1), "share_of_peak": share}  # fmt: skip
    for key in ("current", "compiled"):
        if key in out:
            for unit, name in (("step_ms", "speedup"), ("cpu_ms", "speedup_cpu")):
                out[f"{name}_{key}"] = round(out["reference"][unit] / out[key][unit], 2)
    return out


def measure_model(name: str, batch, args, peaks: dict) -> dict:
    """Parameters, FLOPs, step times per thread count and (unless ``--no-memory``) memory."""
    torch.set_num_threads(1)
    new, ref = build_pair(name, batch)
    flops = {"current": step_flops(new, batch), "reference": step_flops(ref, batch)}
    entry = {"parameters": sum(p.numel() for p in new.parameters())}
    entry.update({f"flops_{impl}": value for impl, value in flops.items()})
    for threads in args.threads:
        compiled = args.compile and threads == 1
        res = compare(name, batch, threads, args.repeats, compiled, flops, peaks[threads])
        entry[f"{threads}_threads"] = res
        print(name, threads, json.dumps(res), flush=True)
    if not args.no_memory:
        impls = ("reference", "current")
        entry["memory"] = {i: spawn(MODULE, dict(model=name, impl=i)) for i in impls}
        print(name, json.dumps(entry["memory"]), flush=True)
    return entry


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
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--device", device]
    cmd += ["tests/test_nn_se3_transformer.py", "tests/test_nn_equivalence.py", "-k", "not compile"]
    opts = dict(cwd=REPO, capture_output=True, text=True, timeout=300)
    wall, _, proc = clock(subprocess.run, cmd, **opts)
    tail = proc.stdout.strip().splitlines()[-1:] or [""]
    return {"rc": proc.returncode, "summary": tail[0], "wall_s": round(wall, 1)}


def gpu_check(args, record: dict) -> bool:
    """Epoch times of each setup and model, then the device tests; True when all passed."""
    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        sys.exit("--gpu-check: torch sees no CUDA device (use --device cpu --quick for a dry run)")
    molecules, batch_size, epochs = (16, 8, 1) if args.quick else (256, 32, 3)
    begin = time.perf_counter()
    graphs = esol_graphs(molecules)
    cpu = list(DataLoader(graphs, batch_size=batch_size))
    device = [b.to(args.device, non_blocking=True) for b in cpu]
    device_name = torch.cuda.get_device_name(0) if cuda else "cpu"
    record.update(device=device_name, cpu_threads=torch.get_num_threads(), molecules=len(graphs))
    record.update(batches=len(cpu), results={}, skipped=[])
    results = record["results"]  # CUDA graphs need CUDA; the dry run on a CPU compiles nothing
    for name, setup in itertools.product(("small", "default"), SETUPS if cuda else SETUPS[:3]):
        if time.perf_counter() - begin > BUDGET_S:
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
    record.update(wall_s=round(time.perf_counter() - begin, 1), load_average=os.getloadavg()[0])
    failed = any("error" in r for r in results.values())
    return not (failed or record.get("device_tests", {}).get("rc", 0))


def step_check(args, record: dict) -> bool:
    """Step times, FLOPs and memory of current and reference code for each of ``--models``."""
    batch = Batch.from_data_list(esol_graphs())
    record["batch"] = {"graphs": batch.num_graphs, "atoms": batch.num_nodes,
                       "edges": int(batch.edge_index.shape[1])}  # fmt: skip
    print(json.dumps(record["batch"]), flush=True)
    peaks = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        peaks[threads] = record[f"matmul_peak_gflops_per_core_{threads}t"] = round(matmul_peak(), 1)
    record["models"] = {name: measure_model(name, batch, args, peaks) for name in args.models}
    record["load_average_end"] = os.getloadavg()[0]
    return True


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--compile", action="store_true", help="also time torch.compile (1 thread)")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--out", type=Path)
    p.add_argument("--gpu-check", action="store_true", help="epochs on the CPU vs --device")
    p.add_argument("--device", default="cuda", help="of --gpu-check (cpu: a dry run)")
    p.add_argument("--quick", action="store_true", help="--gpu-check on 16 molecules, 1 epoch")
    p.add_argument("--no-tests", action="store_true", help="--gpu-check without device tests")
    p.add_argument("--worker", help=argparse.SUPPRESS)  # JSON settings of a memory worker
    args = p.parse_args(argv)
    if args.worker:
        return serve(memory_worker, args.worker)
    command = " ".join(["python -m benchmarks.backbone_step", *(argv or sys.argv[1:])])
    record = dict(command=command, load_average_start=os.getloadavg()[0], torch=torch.__version__)
    passed = gpu_check(args, record) if args.gpu_check else step_check(args, record)
    print(json.dumps(record, indent=1), flush=True)
    if args.out:
        args.out.write_text(json.dumps(record, indent=1) + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
