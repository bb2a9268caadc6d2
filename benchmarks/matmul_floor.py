"""The matrix products of one backbone training step, re-run alone: a floor under its time.

Not a test; BENCHMARKS.md ("Backbone training step", "Goals not reached") has the command.
Every matrix product (``aten.mm``, ``addmm``, ``bmm``, ``baddbmm``) that one forward +
backward of the current ``molprop.nn`` backbone runs on the batch of
:mod:`benchmarks.backbone_step` is recorded with its shapes and strides; the recorded sequence
is then replayed on random tensors of the same layouts, with nothing else in between, and
timed interleaved with the reference and the current training steps (one thread, median CPU
time). An implementation that keeps these products cannot step faster than the replay.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch_geometric.data import Batch

from benchmarks._common import time_steps
from benchmarks.backbone_step import MODELS, adamw_step, build_pair, esol_graphs, matmul_peak

MATMULS = {torch.ops.aten.mm, torch.ops.aten.addmm, torch.ops.aten.bmm, torch.ops.aten.baddbmm}


class Layout(tuple):
    """``(shape, stride)`` of a recorded tensor argument."""


def _layout(arg):
    return Layout((tuple(arg.shape), arg.stride())) if torch.is_tensor(arg) else arg


class MatmulRecorder(TorchDispatchMode):
    """Record ``(op, [Layout of each tensor argument, or the argument], kwargs)``."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func.overloadpacket in MATMULS:
            spec = [_layout(a) for a in args]
            self.calls.append((func, spec, {k: _layout(v) for k, v in kwargs.items()}))
        return func(*args, **kwargs)


def gemm_flops(func, spec: list) -> int:
    """Multiply-add FLOPs (2 per product term) of one recorded matrix product."""
    a, b = [s[0] for s in spec if isinstance(s, Layout)][-2:]  # (bias,) a, b: the last two
    batch = a[0] if len(a) == 3 else 1
    return 2 * batch * a[-2] * a[-1] * b[-1]


def replay(calls: list[tuple]):
    """Closure running every recorded product in order on random tensors of its layout."""
    cache: dict = {}

    def tensor(layout):
        if layout not in cache:  # random storage viewed with the recorded (maybe expanded) strides
            shape, stride = layout
            span = sum((n - 1) * st for n, st in zip(shape, stride, strict=True))
            size = 1 + span if all(shape) else 0
            cache[layout] = torch.randn(size).as_strided(shape, stride)
        return cache[layout]

    jobs = []
    for func, spec, kwargs in calls:
        args = [tensor(s) if isinstance(s, Layout) else s for s in spec]
        kwargs = {k: tensor(v) if isinstance(v, Layout) else v for k, v in kwargs.items()}
        jobs.append((func, args, kwargs))

    @torch.no_grad()
    def run():
        for func, args, kwargs in jobs:
            func(*args, **kwargs)

    return run


def measure(name: str, batch, repeats: int, peak: float) -> dict:
    """Reference step, current step and the replay of the current step's products."""
    torch.set_num_threads(1)
    new, ref = build_pair(name, batch)
    with MatmulRecorder() as rec:
        new(batch).square().mean().backward()
    new.zero_grad(set_to_none=True)
    flops = sum(gemm_flops(f, s) for f, s, _ in rec.calls)
    steps = {"reference": adamw_step(ref), "current": adamw_step(new)}
    floor = replay(rec.calls)
    steps["products"] = lambda *_: floor()
    cpu = {key: 1e3 * v[1] for key, v in time_steps(steps, repeats, batch).items()}
    out = {f"{key}_cpu_ms": round(ms, 1) for key, ms in cpu.items()}
    out.update(
        products=len(rec.calls),
        products_gflop=round(flops / 1e9, 2),
        products_gflops_per_core=round(flops / cpu["products"] / 1e6, 1),
        peak_gflops_per_core=round(peak, 1),
        products_share_of_reference=round(cpu["products"] / cpu["reference"], 3),
        best_speedup_keeping_products=round(cpu["reference"] / cpu["products"], 2),
    )
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    batch = Batch.from_data_list(esol_graphs())
    peak = matmul_peak()
    record = {"threads": 1, "atoms": batch.num_nodes, "edges": batch.edge_index.shape[1]}
    for name in args.models:
        record[name] = measure(name, batch, args.repeats, peak)
        print(name, json.dumps(record[name]), flush=True)
    if args.out:
        args.out.write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
