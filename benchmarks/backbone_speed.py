"""Backbone speed/memory benchmark: molprop.nn.SE3Transformer vs se3-transformer-pytorch 0.9.0.

Not a test. Every measurement runs in its own subprocess with one torch thread and an address
space cap (``resource.setrlimit(RLIMIT_AS)``), so an out-of-memory failure is a reported result.
Peak memory is the subprocess's peak RSS (``ru_maxrss``), imports and model included.

The peer (``se3-transformer-pytorch==0.9.0``, lucidrains) runs in its own venv,
``benchmarks/.venv-peer``, created on first use (torch 2.13.0 CPU wheel first, then the peer).

Usage::

    nice -n 19 python -m benchmarks.backbone_speed [--peer-steps 1] [--steps 3] [--scaling-only]

Prints a table; the last line is JSON with ``train_speedup``, ``infer_speedup``,
``memory_ratio`` (molprop peak / peer peak) and the ``scaling`` points.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks._common import clock, emit_result, peak_rss_mib, run_worker
from benchmarks._geometry import cluster, knn_edges, radius_edges

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-peer"
PEER_PY = VENV / "bin" / "python"
WORK = HERE / "work"
BATCH, ATOMS, NEIGHBORS, DIM, DEPTH, HEADS, IN_DIM = 32, 25, 16, 32, 4, 4, 32
SCALING_SIZES = (25, 50, 100, 200, 400)


def measure(model, forward, steps: int, warm_n: int, batch: int, edges: int) -> dict:
    """Median train (fwd + bwd + Adam) and inference seconds of ``forward(n graphs)``.

    Each is warmed up once on ``warm_n`` graphs; peak RSS covers imports, model and steps.
    """
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    base = peak_rss_mib()

    def train(n=batch):
        opt.zero_grad()
        forward(n).square().mean().backward()
        opt.step()

    @torch.no_grad()
    def infer(n=batch):
        model.eval()
        forward(n)
        model.train()

    times = {}
    for name, step in (("train", train), ("infer", infer)):
        step(warm_n)
        times[name] = statistics.median(clock(step)[0] for _ in range(steps))
    return dict(
        edges=edges, train_s=times["train"], infer_s=times["infer"],
        train_gps=batch / times["train"], infer_gps=batch / times["infer"],
        peak_mib=peak_rss_mib(), base_mib=base,
    )  # fmt: skip


def worker_molprop(args) -> dict:
    import torch
    from torch_geometric.data import Batch, Data

    from molprop.nn import SE3Transformer

    gen = torch.Generator().manual_seed(0)

    def graph(num):
        pos = cluster(num, gen)
        ei = radius_edges(pos, 5.0) if args.edges == "radius" else knn_edges(pos, NEIGHBORS)
        return Data(x=torch.randn(num, IN_DIM, generator=gen), pos=pos, edge_index=ei)

    batch = Batch.from_data_list([graph(args.atoms) for _ in range(args.batch)])
    model = SE3Transformer(
        IN_DIM, 0, 1, num_layers=DEPTH, max_degree=args.degree, channels=DIM,
        num_heads=HEADS, radial_mode=args.radial_mode,
    )  # fmt: skip
    edges = int(batch.edge_index.shape[1])
    return measure(model, lambda n: model(batch), args.steps, args.batch, args.batch, edges)


def worker_peer(args) -> dict:
    import torch
    from se3_transformer_pytorch import SE3Transformer

    gen = torch.Generator().manual_seed(0)
    pos = torch.stack([cluster(args.atoms, gen) for _ in range(args.batch)])
    feats = torch.randn(args.batch, args.atoms, IN_DIM, generator=gen)
    mask = torch.ones(args.batch, args.atoms, dtype=torch.bool)
    model = SE3Transformer(
        dim=DIM, heads=HEADS, dim_head=16, depth=DEPTH, num_degrees=args.degree + 1,
        num_neighbors=NEIGHBORS, reduce_dim_out=False,
    )  # fmt: skip

    def forward(n):
        return model(feats[:n], pos[:n], mask[:n]).mean(1)

    # warm-up on 2 graphs: builds and caches the peer's basis
    edges = args.batch * args.atoms * NEIGHBORS
    return measure(model, forward, args.steps, 2, args.batch, edges)


def run_worker_mode(args) -> None:
    import torch

    torch.set_num_threads(1)
    fn = worker_peer if args.worker == "peer" else worker_molprop
    try:
        result = dict(status="ok", **fn(args))
    except (MemoryError, RuntimeError) as err:
        if "memory" not in str(err).lower() and not isinstance(err, MemoryError):
            raise
        result = dict(status="oom", error=str(err).splitlines()[0][:120], peak_mib=peak_rss_mib())
    emit_result(result)


def ensure_peer_venv() -> None:
    """Create ``benchmarks/.venv-peer`` with torch 2.13.0 (CPU wheel) and the peer package."""
    if PEER_PY.exists():
        return
    print(f"creating {VENV} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(PEER_PY), "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["torch==2.13.0"], check=True)
    subprocess.run(pip + ["se3-transformer-pytorch==0.9.0"], check=True)


def spawn(python: str, cap_gib: float, timeout: float, **opts) -> dict:
    """Run one worker in a subprocess with ``RLIMIT_AS = cap_gib``; return its result dict."""
    cmd = [python, "-m", "benchmarks.backbone_speed"]
    for key, value in opts.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    cap = int(cap_gib * 2**30)

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        try:  # if the kernel OOM killer must act, make this benchmark process its first choice
            Path("/proc/self/oom_score_adj").write_text("1000")
        except OSError:
            pass

    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["CACHE_PATH"] = str(WORK / "peer-basis-cache")
    env["PYTHONPATH"] = str(HERE.parent) + os.pathsep + env.get("PYTHONPATH", "")
    result = run_worker(cmd, timeout, preexec_fn=limit, env=env)
    if "returncode" in result:
        oom = result["returncode"] < 0 or "memory" in result["error"].lower()
        result = {"status": "oom" if oom else "error", **result}
    return result


def fmt(name: str, r: dict) -> str:
    if r.get("status") != "ok":
        return f"{name:<34} {r.get('status', '?').upper():>10}  {r.get('error', '')}"
    return (
        f"{name:<34} {r['edges']:>7} {r['train_gps']:>10.2f} {r['infer_gps']:>10.2f}"
        f" {r['peak_mib']:>9.0f}"
    )


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3, help="timed molprop steps (median)")
    p.add_argument("--peer-steps", type=int, default=1, help="timed peer steps (it is slow)")
    p.add_argument("--peer-degrees", default="1,2", help="peer max degrees to try")
    p.add_argument("--cap-gib", type=float, default=8.0, help="address-space cap, molprop runs")
    p.add_argument("--peer-cap-gib", type=float, default=20.0, help="address-space cap, peer")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per subprocess")
    p.add_argument("--skip-peer", action="store_true")
    p.add_argument("--skip-full", action="store_true", help="skip radial_mode='full' row")
    p.add_argument("--scaling-only", action="store_true", help="only the molprop scaling rows")
    # internal: worker mode
    p.add_argument("--worker", choices=["molprop", "peer"], help=argparse.SUPPRESS)
    p.add_argument("--degree", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--atoms", type=int, default=ATOMS, help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=BATCH, help=argparse.SUPPRESS)
    p.add_argument("--edges", default="knn", help=argparse.SUPPRESS)
    p.add_argument("--radial-mode", default="channelwise", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return run_worker_mode(args)

    print(f"config: batch {BATCH} x {ATOMS} atoms, kNN {NEIGHBORS}, dim {DIM}, depth {DEPTH}, "
          f"{HEADS} heads, 1 thread; RLIMIT_AS molprop {args.cap_gib} GiB, "
          f"peer {args.peer_cap_gib} GiB; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'run':<34} {'edges':>7} {'train g/s':>10} {'infer g/s':>10} {'peak MiB':>9}")
    run = dict(cap_gib=args.cap_gib, timeout=args.timeout)
    results = {}
    for deg in () if args.scaling_only else (1, 2, 3):
        results[f"molprop_L{deg}"] = spawn(
            sys.executable, worker="molprop", degree=deg, steps=args.steps, **run
        )
        print(fmt(f"molprop degrees 0-{deg}", results[f"molprop_L{deg}"]), flush=True)
    if not (args.skip_full or args.scaling_only):
        r = spawn(sys.executable, worker="molprop", degree=1, steps=1, radial_mode="full", **run)
        results["molprop_L1_full"] = r
        print(fmt("molprop 0-1 radial_mode=full", r), flush=True)
    if not (args.skip_peer or args.scaling_only):
        ensure_peer_venv()
        for deg in (int(d) for d in args.peer_degrees.split(",")):
            r = spawn(str(PEER_PY), worker="peer", degree=deg, steps=args.peer_steps,
                      cap_gib=args.peer_cap_gib, timeout=args.timeout)  # fmt: skip
            results[f"peer_L{deg}"] = r
            print(fmt(f"se3-transformer-pytorch 0-{deg}", r), flush=True)

    print("\nscaling, degrees 0-2, one graph, 5 A radius graph, density 0.1/A^3, fwd+bwd")
    print(f"{'atoms':>6} {'edges':>7} {'s/step':>8} {'ms/kedge':>9} {'peak MiB':>9}")
    scaling = []
    for num in SCALING_SIZES:
        r = spawn(sys.executable, worker="molprop", degree=2, atoms=num, batch=1,
                  edges="radius", steps=args.steps, **run)  # fmt: skip
        point = dict(atoms=num, status=r["status"])
        if r["status"] == "ok":
            point.update(edges=r["edges"], train_s=r["train_s"], peak_mib=r["peak_mib"])
            print(f"{num:>6} {r['edges']:>7} {r['train_s']:>8.3f} "
                  f"{1e6 * r['train_s'] / r['edges']:>9.3f} {r['peak_mib']:>9.0f}")  # fmt: skip
        else:
            print(fmt(str(num), r))
        scaling.append(point)

    ours, peer = results.get("molprop_L1", {}), results.get("peer_L1", {})
    both = ours.get("status") == "ok" and peer.get("status") == "ok"
    peer_peak = peer.get("peak_mib")  # at an OOM: the peak reached before failing (a bound)
    ok = [pt for pt in scaling if pt["status"] == "ok"]
    slope = None
    if len(ok) >= 2:  # least-squares log-log slope of time vs edges (1.0 = linear)
        xs = [math.log(pt["edges"]) for pt in ok]
        slope = statistics.linear_regression(xs, [math.log(pt["train_s"]) for pt in ok]).slope
    summary = dict(
        train_speedup=ours["train_gps"] / peer["train_gps"] if both else None,
        infer_speedup=ours["infer_gps"] / peer["infer_gps"] if both else None,
        memory_ratio=ours["peak_mib"] / peer_peak if ours.get("peak_mib") and peer_peak else None,
        memory_ratio_is_upper_bound=peer.get("status") == "oom",
        scaling_time_vs_edges_loglog_slope=slope,
        load_average=os.getloadavg()[0],
        runs=results,
        scaling=scaling,
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
