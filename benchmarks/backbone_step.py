"""Training-step speed of the backbone: current ``molprop.nn`` vs the frozen reference copy.

Not a test; BENCHMARKS.md ("Backbone training step") has the batch, the measures and the
commands (``OMP_NUM_THREADS=1 python -m benchmarks.backbone_step [--out FILE]``). Current code
and reference (``tests/reference_se3``, same weights) are timed interleaved in one process.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
import yaml
from torch_geometric.data import Batch

from benchmarks._common import ESOL, REPO, clock, serve, spawn, time_steps, train_step

MODULE = "benchmarks.backbone_step"  # the memory workers run this module
MODELS = ("small", "default")
GRAPH = REPO / "conf" / "graph" / "default.yaml"


def model_kwargs(name: str) -> dict:
    """Backbone kwargs of ``conf/model/NAME.yaml`` (``defaults: [default]`` merged)."""
    conf = yaml.safe_load((REPO / "conf" / "model" / f"{name}.yaml").read_text())
    base = model_kwargs("default") if "default" in (conf.get("defaults") or []) else {}
    cutoff = float(yaml.safe_load(GRAPH.read_text())["cutoff"])  # model.backbone's ${graph.cutoff}
    return {**base, **conf["backbone"], "cutoff": cutoff}


def esol_graphs(num: int = 32) -> list:
    """PyG graphs of the first ``num`` ESOL SMILES, one ETKDG conformer (seed 0) each."""
    import pandas as pd
    from rdkit import Chem
    from rdkit.Chem import AllChem

    from molprop.data.featurize import MolFeaturizer

    graphs = []
    for smiles in pd.read_csv(ESOL)["smiles"][:num]:
        mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
        if AllChem.EmbedMolecule(mol, randomSeed=0) != 0:
            continue  # a molecule RDKit cannot embed is left out (none of the first 32)
        feat = MolFeaturizer(mol, yaml.safe_load(GRAPH.read_text()))
        graphs.append(feat.graph(mol.GetConformer().GetPositions(), np.zeros(1), 0, 0))
    return graphs


def backbone(name: str, batch, cls=None):
    """``SE3Transformer`` (or ``cls``) of ``conf/model/NAME.yaml`` sized for ``batch``, seed 0."""
    from molprop.nn import SE3Transformer

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
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        model(batch).square().mean().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def matmul_peak(size: int = 2048, repeats: int = 5) -> float:
    """float32 GFLOP/s per core of a ``size x size`` matmul: FLOPs / median CPU seconds."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
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


def compare(name: str, batch, threads: int, repeats: int, compiled: bool) -> dict:
    """Interleaved step times of reference and current code (and compiled) for ``name``."""
    torch.set_num_threads(threads)
    new, ref = build_pair(name, batch)
    steps, out = {"reference": adamw_step(ref), "current": adamw_step(new)}, {}
    if compiled:
        from molprop.model import compile_backbone

        steps["compiled"] = adamw_step(compile_backbone(build_pair(name, batch)[0]))
        out["compile_s"] = round(clock(steps["compiled"], batch)[0], 2)  # first call compiles
    for step in steps.values():
        step(batch)  # warm-up
    for key, (wall, cpu) in time_steps(steps, repeats, batch).items():
        values = (round(1e3 * wall, 1), round(batch.num_graphs / wall, 1), round(1e3 * cpu, 1))
        out[key] = dict(zip(("step_ms", "graphs_per_s", "cpu_ms"), values, strict=True))
    for key in ("current", "compiled"):
        if key in out:
            for unit, name in (("step_ms", "speedup"), ("cpu_ms", "speedup_cpu")):
                out[f"{name}_{key}"] = round(out["reference"][unit] / out[key][unit], 2)
    return out


def measure_model(name: str, batch, args, peaks: dict) -> dict:
    """Parameters, FLOPs, step times per thread count and (unless ``--no-memory``) memory."""
    torch.set_num_threads(1)
    new, ref = build_pair(name, batch)
    entry = {"parameters": sum(p.numel() for p in new.parameters())}
    entry.update(flops_current=step_flops(new, batch), flops_reference=step_flops(ref, batch))
    for threads in args.threads:
        res = compare(name, batch, threads, args.repeats, args.compile and threads == 1)
        for key in ("reference", "current", "compiled"):
            if key in res:
                flops = entry["flops_reference" if key == "reference" else "flops_current"]
                gflops = flops / (res[key]["cpu_ms"] / 1e3) / 1e9  # per core
                res[key]["gflops_per_core"] = round(gflops, 1)
                res[key]["share_of_peak"] = round(gflops / peaks[threads], 3)
        entry[f"{threads}_threads"] = res
        print(name, threads, json.dumps(res), flush=True)
    if not args.no_memory:
        impls = ("reference", "current")
        entry["memory"] = {i: spawn(MODULE, dict(model=name, impl=i)) for i in impls}
        print(name, json.dumps(entry["memory"]), flush=True)
    return entry


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--compile", action="store_true", help="also time torch.compile (1 thread)")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--out", type=Path)
    p.add_argument("--worker", help=argparse.SUPPRESS)  # JSON settings of a memory worker
    args = p.parse_args(argv)
    if args.worker:
        return serve(memory_worker, args.worker)
    batch = Batch.from_data_list(esol_graphs())
    record = {
        "command": " ".join(["python -m benchmarks.backbone_step", *(argv or sys.argv[1:])]),
        "load_average_start": os.getloadavg()[0],
        "batch": {"graphs": batch.num_graphs, "atoms": batch.num_nodes,
                  "edges": int(batch.edge_index.shape[1])},
        "torch": torch.__version__, "models": {},
    }  # fmt: skip
    print(json.dumps(record["batch"]), flush=True)
    peaks = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        peaks[threads] = record[f"matmul_peak_gflops_per_core_{threads}t"] = round(matmul_peak(), 1)
    for name in args.models:
        record["models"][name] = measure_model(name, batch, args, peaks)
    record["load_average_end"] = os.getloadavg()[0]
    print(json.dumps(record, indent=1))
    if args.out:
        args.out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
