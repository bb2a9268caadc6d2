"""Backbone speed/memory: molprop.nn.SE3Transformer vs se3-transformer-pytorch 0.9.0 (not a test).

BENCHMARKS.md ("Backbone speed") has the set-up and the commands. Each measurement runs in a
one-thread subprocess under an address-space cap, so running out of memory is a result; the
peer runs in ``benchmarks/.venv-peer``, made on first use. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import torch

from benchmarks._common import peak_rss_mib, serve, spawn, time_steps, train_step

MODULE = "benchmarks.backbone_speed"  # the workers run this module
VENV = Path(__file__).resolve().parent / ".venv-peer"
PEER_PY = VENV / "bin" / "python"
BATCH, ATOMS, NEIGHBORS, DIM, DEPTH, HEADS, IN_DIM = 32, 25, 16, 32, 4, 4, 32
CAP_GIB, TIMEOUT_S = {"molprop": 8.0, "peer": 20.0}, 1800.0  # address-space caps, per worker


def cluster(num: int, generator, density: float = 0.1, min_dist: float = 1.0) -> torch.Tensor:
    """Molecule-like ``[num, 3]`` points, uniform in a ball of ``density``/A^3, min_dist apart."""
    radius = (3 * num / (4 * math.pi * density)) ** (1 / 3)
    points = torch.empty(0, 3)
    while points.shape[0] < num:
        cand = (torch.rand(4 * num, 3, generator=generator) * 2 - 1) * radius
        for p in cand[cand.norm(dim=1) <= radius]:
            if points.shape[0] == num:
                break
            if points.shape[0] == 0 or torch.cdist(p[None], points).min() >= min_dist:
                points = torch.cat([points, p[None]])
    return points


def edges_of(pos: torch.Tensor, kind: str) -> torch.Tensor:
    """``[2, E]`` edges ``j -> i``: pairs under 5 A (``radius``), else each atom's kNN.

    The edges of ``molprop.data.featurize.radius_edges``, whose RDKit import would count in
    the peak RSS.
    """
    dist = torch.cdist(pos, pos).fill_diagonal_(float("inf"))
    if kind == "radius":
        dst, src = torch.nonzero(dist < 5.0, as_tuple=True)
        return torch.stack([src, dst])
    nbr = dist.topk(min(NEIGHBORS, len(pos) - 1), largest=False).indices
    return torch.stack([nbr.reshape(-1), torch.arange(len(pos)).repeat_interleave(nbr.shape[1])])


def measure(model, forward, steps: int, warm_n: int, batch: int, edges: int) -> dict:
    """Median train (fwd + bwd + Adam) and inference seconds of ``forward(batch graphs)``.

    Each is warmed up once on ``warm_n`` graphs; peak RSS covers imports, model and steps.
    """
    base = peak_rss_mib()

    @torch.no_grad()
    def infer(n):
        model.eval()
        forward(n)
        model.train()

    train = train_step(torch.optim.Adam(model.parameters(), lr=1e-4), forward)
    for step in (train, infer):
        step(warm_n)
    times = time_steps({"train": train, "infer": infer}, steps, batch, warm_up=False)
    train_s, infer_s = times["train"][0], times["infer"][0]
    return dict(
        edges=edges, train_s=train_s, infer_s=infer_s, train_gps=batch / train_s,
        infer_gps=batch / infer_s, peak_mib=peak_rss_mib(), base_mib=base,
    )  # fmt: skip


def worker(cfg: dict) -> dict:
    """One measurement: ``cfg["impl"]`` is ``molprop`` or ``peer`` (in its venv)."""
    gen = torch.Generator().manual_seed(0)
    if cfg["impl"] == "peer":
        from se3_transformer_pytorch import SE3Transformer

        pos = torch.stack([cluster(ATOMS, gen) for _ in range(BATCH)])
        feats = torch.randn(BATCH, ATOMS, IN_DIM, generator=gen)
        mask = torch.ones(BATCH, ATOMS, dtype=torch.bool)
        model = SE3Transformer(
            dim=DIM, heads=HEADS, dim_head=16, depth=DEPTH, num_degrees=cfg["degree"] + 1,
            num_neighbors=NEIGHBORS, reduce_dim_out=False,
        )  # fmt: skip

        def forward(n):
            return model(feats[:n], pos[:n], mask[:n]).mean(1)

        # warm-up on 2 graphs: builds and caches the peer's basis
        return measure(model, forward, cfg["steps"], 2, BATCH, BATCH * ATOMS * NEIGHBORS)
    from torch_geometric.data import Batch, Data

    from molprop.nn import SE3Transformer

    graphs = []
    for _ in range(cfg["batch"]):
        pos = cluster(cfg["atoms"], gen)
        edges, x = edges_of(pos, cfg["edges"]), torch.randn(len(pos), IN_DIM, generator=gen)
        graphs.append(Data(x=x, pos=pos, edge_index=edges))
    batch = Batch.from_data_list(graphs)
    model = SE3Transformer(
        IN_DIM, 0, 1, num_layers=DEPTH, max_degree=cfg["degree"], channels=DIM,
        num_heads=HEADS, radial_mode=cfg["radial_mode"],
    )  # fmt: skip
    n, edges = cfg["batch"], int(batch.edge_index.shape[1])
    return measure(model, lambda _: model(batch), cfg["steps"], n, n, edges)


def ensure_peer_venv() -> None:
    """Create ``benchmarks/.venv-peer`` with torch 2.13.0 (CPU wheel) and the peer package."""
    if not PEER_PY.exists():
        print(f"creating {VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        for package in ("torch==2.13.0", "se3-transformer-pytorch==0.9.0"):
            subprocess.run([str(PEER_PY), "-m", "pip", "install", "-q", package], check=True)


def run(name: str, degree: int, steps: int, **opts) -> dict:
    """Measure one molprop (or, with ``impl="peer"``, peer) configuration and print it."""
    cfg = dict(impl="molprop", degree=degree, steps=steps, atoms=ATOMS, batch=BATCH, edges="knn")
    cfg.update(radial_mode="channelwise", **opts)
    python = str(PEER_PY) if cfg["impl"] == "peer" else sys.executable
    result = spawn(MODULE, cfg, python, CAP_GIB[cfg["impl"]], TIMEOUT_S)
    print(name, json.dumps(result), flush=True)
    return result


def summary(runs: dict, points: list[dict]) -> dict:
    """Speed-ups and memory ratio over the peer at degrees 0-1, log-log slope of the scaling."""
    ours, peer = runs.get("molprop_L1", {}), runs.get("peer_L1", {})
    both = ours.get("status") == "ok" and peer.get("status") == "ok"
    peer_peak = peer.get("peak_mib")  # at an OOM: the peak reached before failing (a bound)
    ok = [(math.log(pt["edges"]), math.log(pt["train_s"])) for pt in points if pt["status"] == "ok"]
    # least-squares log-log slope of time vs edges (1.0 = linear)
    slope = statistics.linear_regression(*zip(*ok, strict=True)).slope if len(ok) >= 2 else None
    return dict(
        train_speedup=ours["train_gps"] / peer["train_gps"] if both else None,
        infer_speedup=ours["infer_gps"] / peer["infer_gps"] if both else None,
        memory_ratio=ours["peak_mib"] / peer_peak if ours.get("peak_mib") and peer_peak else None,
        memory_ratio_is_upper_bound=peer.get("status") == "oom",
        scaling_time_vs_edges_loglog_slope=slope, load_average=os.getloadavg()[0],
        runs=runs, scaling=points,
    )  # fmt: skip


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3, help="timed molprop steps (median)")
    p.add_argument("--scaling-only", action="store_true", help="only the molprop scaling rows")
    p.add_argument("--worker", help=argparse.SUPPRESS)  # JSON settings of one measurement
    args = p.parse_args(argv)
    if args.worker:
        return serve(worker, args.worker)
    runs = {}
    if not args.scaling_only:
        for deg in (1, 2, 3):
            runs[f"molprop_L{deg}"] = run(f"molprop_L{deg}", deg, args.steps)
        runs["molprop_L1_full"] = run("molprop_L1_full", 1, 1, radial_mode="full")  # slow: 1 step
        ensure_peer_venv()
        for deg in (1, 2):  # one timed step: a peer training step takes minutes
            runs[f"peer_L{deg}"] = run(f"peer_L{deg}", deg, 1, impl="peer")
    points = []  # one graph of 25 to 400 atoms, 5 A radius edges, degrees 0-2: fwd + bwd
    for num in (25, 50, 100, 200, 400):
        r = run(f"scaling {num} atoms", 2, args.steps, atoms=num, batch=1, edges="radius")
        points.append(dict(atoms=num, status=r["status"]))
        if r["status"] == "ok":
            points[-1].update(edges=r["edges"], train_s=r["train_s"], peak_mib=r["peak_mib"])
    print(json.dumps(summary(runs, points)))


if __name__ == "__main__":
    main()
