"""Training-step speed of the backbone: current ``molprop.nn`` vs the frozen reference copy.

Not a test. One fixed batch of real molecules (the first 32 ESOL SMILES, one RDKit ETKDG
conformer each, ``conf/graph/default.yaml`` graphs), one forward + backward + AdamW step of
``SE3Transformer`` for ``conf/model/small.yaml`` and ``conf/model/default.yaml``. The current
code and the reference (``tests/reference_se3``, today's backbone before the speed work, loaded
by path with the same state dict) are timed interleaved in one process, so both see the same
machine load; medians of ``--repeats`` steps. FLOPs of one step come from
``torch.utils.flop_counter``; the CPU's float32 peak is a large matmul timed in the same run.
Peak memory (RSS growth over the first steps) is measured in one subprocess per model and
implementation. Optionally ``--compile`` also times ``torch.compile`` of the current backbone.

Usage (repo root)::

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.backbone_step [--threads 1 2] \
        [--repeats 7] [--compile] [--out benchmarks/results/backbone_step.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from benchmarks._common import ESOL, REPO, clock, emit_result, run_worker

REFERENCE = REPO / "tests" / "reference_se3"
MODELS = ("small", "default")


def load_reference():
    """Import ``tests/reference_se3`` by path as the package ``reference_se3``."""
    if "reference_se3" in sys.modules:
        return sys.modules["reference_se3"]
    spec = importlib.util.spec_from_file_location(
        "reference_se3", REFERENCE / "__init__.py", submodule_search_locations=[str(REFERENCE)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["reference_se3"] = module
    spec.loader.exec_module(module)
    return module


def model_kwargs(name: str) -> dict:
    """Backbone kwargs of ``conf/model/NAME.yaml`` (``defaults: [default]`` merged)."""
    conf = yaml.safe_load((REPO / "conf" / "model" / f"{name}.yaml").read_text())
    base = model_kwargs("default") if "default" in (conf.get("defaults") or []) else {}
    graph = yaml.safe_load((REPO / "conf" / "graph" / "default.yaml").read_text())
    out = {**base, **conf["backbone"]}
    out["cutoff"] = float(graph["cutoff"])
    return out


def esol_graphs(num: int = 32, csv: Path = ESOL) -> list:
    """PyG graphs of the first ``num`` SMILES of ESOL, one ETKDG conformer (seed 0) each."""
    import pandas as pd
    from rdkit import Chem
    from rdkit.Chem import AllChem

    from molprop.data.featurize import MolFeaturizer

    graph_cfg = yaml.safe_load((REPO / "conf" / "graph" / "default.yaml").read_text())
    graphs = []
    for smiles in pd.read_csv(csv)["smiles"][:num]:
        mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
        if AllChem.EmbedMolecule(mol, randomSeed=0) != 0:
            continue  # a molecule RDKit cannot embed is left out (none of the first 32)
        feat = MolFeaturizer(mol, graph_cfg)
        graphs.append(feat.graph(mol.GetConformer().GetPositions(), np.zeros(1), 0, 0))
    return graphs


def esol_batch(num: int = 32, csv: Path = ESOL):
    """One PyG batch of :func:`esol_graphs`."""
    from torch_geometric.data import Batch

    return Batch.from_data_list(esol_graphs(num, csv))


def build_pair(name: str, batch, seed: int = 0):
    """(current, reference) backbones of size ``name`` with identical weights."""
    from molprop.nn import SE3Transformer

    kwargs = dict(model_kwargs(name), in_dim=batch.x.shape[1], edge_dim=batch.edge_attr.shape[1])
    kwargs["out_dim"] = 1
    torch.manual_seed(seed)
    new = SE3Transformer(**kwargs)
    ref = load_reference().SE3Transformer(**kwargs)
    ref.load_state_dict(new.state_dict())
    return new, ref


def make_step(model, batch, forward=None):
    """Closure running one forward + backward + AdamW step."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    forward = model if forward is None else forward

    def step():
        opt.zero_grad(set_to_none=True)
        forward(batch).square().mean().backward()
        opt.step()

    return step


def step_flops(model, batch) -> int:
    """FLOPs of one forward + backward (``torch.utils.flop_counter``)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        model(batch).square().mean().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def matmul_peak(size: int = 2048, repeats: int = 5) -> float:
    """float32 GFLOP/s per core of a ``size x size`` matmul: FLOPs / median CPU seconds."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    times = [clock(lambda: a @ b)[1] for _ in range(repeats)]
    return 2 * size**3 / statistics.median(times) / 1e9


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_worker(name: str, impl: str) -> dict:
    """Run in a subprocess: peak RSS growth (MiB) over 3 steps of one implementation.

    The peak (``VmHWM``) is reset after setup (``/proc/self/clear_refs``), so imports and
    RDKit embedding do not mask the training steps' peak.
    """
    torch.set_num_threads(1)
    batch = esol_batch()
    new, ref = build_pair(name, batch)
    model = new if impl == "current" else ref
    del new, ref
    step = make_step(model, batch)
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS to the current RSS
    base = _status_kib("VmRSS")
    for _ in range(3):
        step()
    return {"peak_rss_growth_mib": round((_status_kib("VmHWM") - base) / 1024, 1)}


def memory(name: str, impl: str) -> dict:
    """:func:`memory_worker` in a fresh one-thread subprocess."""
    cmd = [sys.executable, "-m", "benchmarks.backbone_step", "--memory-worker", name, impl]
    result = run_worker(cmd, env=dict(os.environ, OMP_NUM_THREADS="1"))
    result.pop("returncode", None)
    return result


def compare(name: str, batch, threads: int, repeats: int, compiled: bool) -> dict:
    """Interleaved step times of reference and current code for model ``name``."""
    torch.set_num_threads(threads)
    new, ref = build_pair(name, batch)
    steps = {"reference": make_step(ref, batch), "current": make_step(new, batch)}
    out = {}
    if compiled:
        from molprop.model import compile_backbone

        fast = compile_backbone(build_pair(name, batch)[0])
        steps["compiled"] = make_step(fast, batch)
        out["compile_s"] = round(clock(steps["compiled"])[0], 2)  # first call compiles
    for step in steps.values():
        step()  # warm-up
    times = {k: [] for k in steps}
    for _ in range(repeats):
        for key, step in steps.items():
            times[key].append(clock(step)[:2])
    graphs = batch.num_graphs
    for key, values in times.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        out[key] = {"step_ms": round(1e3 * wall, 1), "graphs_per_s": round(graphs / wall, 1),
                    "cpu_ms": round(1e3 * cpu, 1)}  # fmt: skip
    for key in ("current", "compiled"):
        if key in out:
            for unit, name in (("step_ms", "speedup"), ("cpu_ms", "speedup_cpu")):
                out[f"{name}_{key}"] = round(out["reference"][unit] / out[key][unit], 2)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--compile", action="store_true", help="also time torch.compile (1 thread)")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--out", type=Path)
    p.add_argument("--memory-worker", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_worker:
        emit_result(memory_worker(*args.memory_worker))
        return
    batch = esol_batch()
    record = {
        "command": " ".join(["python -m benchmarks.backbone_step", *(argv or sys.argv[1:])]),
        "load_average_start": os.getloadavg()[0],
        "batch": {"graphs": batch.num_graphs, "atoms": batch.num_nodes,
                  "edges": int(batch.edge_index.shape[1])},
        "torch": torch.__version__, "models": {},
    }  # fmt: skip
    print(json.dumps(record["batch"]), flush=True)
    for threads in args.threads:
        torch.set_num_threads(threads)
        record[f"matmul_peak_gflops_per_core_{threads}t"] = round(matmul_peak(), 1)
    for name in args.models:
        torch.set_num_threads(1)
        new, ref = build_pair(name, batch)
        entry = {"parameters": sum(p.numel() for p in new.parameters())}
        entry["flops_current"] = step_flops(new, batch)
        entry["flops_reference"] = step_flops(ref, batch)
        for threads in args.threads:
            res = compare(name, batch, threads, args.repeats, args.compile and threads == 1)
            peak = record[f"matmul_peak_gflops_per_core_{threads}t"]
            for key in ("reference", "current", "compiled"):
                if key in res:
                    flops = entry["flops_reference" if key == "reference" else "flops_current"]
                    gflops = flops / (res[key]["cpu_ms"] / 1e3) / 1e9  # per core
                    res[key]["gflops_per_core"] = round(gflops, 1)
                    res[key]["share_of_peak"] = round(gflops / peak, 3)
            entry[f"{threads}_threads"] = res
            print(name, threads, json.dumps(res), flush=True)
        if not args.no_memory:
            entry["memory"] = {impl: memory(name, impl) for impl in ("reference", "current")}
            print(name, json.dumps(entry["memory"]), flush=True)
        record["models"][name] = entry
    record["load_average_end"] = os.getloadavg()[0]
    print(json.dumps(record, indent=1))
    if args.out:
        args.out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
