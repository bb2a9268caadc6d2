"""Predict throughput (molecules/s, conformer generation included) and peak memory.

1. Throughput: ``molprop.inference.stream.predict`` on the first N ESOL SMILES with a run
   that has the default conformer settings (K=3, ETKDGv3 + MMFF) and the ``model=small``
   backbone; model loading is timed apart from conformers, featurisation and inference.
2. Peak memory: ``python predict.py RUN --input rows.csv --num-conformers 1`` on CSVs of R
   rows (the SMILES repeated) under ``/usr/bin/time -v`` (max RSS of the largest process),
   while a sampler records the RSS of the main process and of its tree (main + conformer
   workers). A tiny model, fast conformers (no MMFF); unless ``--no-cache``, a first (cold)
   pass over the unique SMILES fills a conformer cache so that 100k rows stay affordable.

Weights are untrained (inference costs the same as for a trained model). Usage::

    nice -n 19 python -m benchmarks.predict_throughput [--rows 10000 30000 100000]

The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks._common import ESOL, REPO, Sampler, clock, command_line, machine

# the backbone of conf/model/small.yaml, and a smaller one than tiny.yaml for the memory runs
SMALL = dict(num_layers=2, max_degree=1, channels=16, num_heads=4, radial_hidden=32)
SMALL.update(num_radial=16, head_hidden=64)
TINY = dict(num_layers=1, max_degree=1, channels=4, num_heads=2, radial_hidden=8)
TINY.update(num_radial=6, head_hidden=8)
DEFAULT_CONFORMERS = dict(pool_size=3, seed=0, prune_rms=0.5, max_attempts=5)
DEFAULT_CONFORMERS.update(optimize="mmff", timeout=60)
FAST_CONFORMERS = dict(DEFAULT_CONFORMERS, prune_rms=0.0, max_attempts=2, optimize="none")


def smiles_list() -> list[str]:
    """The unique SMILES of ESOL."""
    if not ESOL.is_file():
        raise SystemExit(f"{ESOL} not found: this benchmark predicts ESOL's molecules")
    return pd.read_csv(ESOL)["smiles"].drop_duplicates().tolist()


def make_run(path: Path, backbone: dict, conformers: dict) -> Path:
    """Save an untrained single-task regression run with molprop.artifacts."""
    import torch

    from molprop import artifacts
    from molprop.data.featurize import ATOM_FEATURE_DIM, BOND_FEATURE_DIM

    spec = artifacts.ModelSpec(
        task="regression",
        task_names=["y"],
        backbone=dict(backbone, in_dim=ATOM_FEATURE_DIM, edge_dim=BOND_FEATURE_DIM, out_dim=1),
        scaler_mean=[0.0],
        scaler_std=[1.0],
        conformers=conformers,
        graph=dict(hydrogens="implicit", cutoff=5.0, max_neighbors=16),
        bagging=dict(num_conformers=conformers["pool_size"], aggregate="mean"),
        data=dict(smiles_column="smiles", largest_fragment=True),
    )
    artifacts.save_spec(path, spec)
    torch.manual_seed(0)
    artifacts.save_member(path, 0, artifacts.build_model(spec))
    return path


def throughput(run_dir: Path, smiles: list[str], workers: int, batch_size: int) -> dict:
    """Molecules per second of predict(), model loading excluded.

    Also reports molecules per CPU-second, which the load of other users on a shared
    machine does not change, and the load average during the measurement.
    """
    from molprop.inference.predictor import Predictor
    from molprop.inference.stream import predict

    load_s, _, predictor = clock(Predictor.from_run_dir, run_dir)
    wall, cpu, frame = clock(
        predict, predictor, smiles=smiles, workers=workers, batch_size=batch_size
    )
    n = len(smiles)
    return dict(
        molecules=n,
        predicted=int((frame["error"] == "").sum()),
        load_s=round(load_s, 2),
        wall_s=round(wall, 2),
        molecules_per_s=round(n / wall, 2),
        cpu_s=round(cpu, 1),
        molecules_per_cpu_s=round(n / cpu, 2),
        load_avg_1min_after=os.getloadavg()[0],
        mean_conformers=round(float(frame["num_conformers"].mean()), 2),
    )


def _tree_rss(proc: subprocess.Popen, under_timer: bool) -> tuple[int, int] | None:
    """RSS in bytes of predict.py and of it plus its descendants; None once it has ended."""
    import psutil

    if proc.poll() is not None:
        return None
    try:
        main = psutil.Process(proc.pid)
        main = (main.children() or [main])[0] if under_timer else main
        total = rss = main.memory_info().rss
        for child in main.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return rss, total
    except psutil.Error:
        return 0, 0


def peak_rss(
    run_dir: Path, rows: int, smiles: list[str], workers: int, work: Path, cache_dir: Path | None
) -> dict:
    """Run predict.py on ``rows`` rows under /usr/bin/time -v while sampling RSS."""
    csv = work / f"rows_{rows}.csv"
    pd.DataFrame(
        {"id": range(rows), "smiles": [smiles[i % len(smiles)] for i in range(rows)]}
    ).to_csv(csv, index=False)
    out = work / f"out_{rows}.csv"
    cmd = [sys.executable, str(REPO / "predict.py"), str(run_dir), "--input", str(csv)]
    cmd += ["--output", str(out), "--num-conformers", "1", "--workers", str(workers), "--quiet"]
    cmd += ["--cache-dir", str(cache_dir)] if cache_dir else []
    timer = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    start = time.perf_counter()
    proc = subprocess.Popen(timer + cmd, stderr=subprocess.PIPE, text=True)
    with Sampler(lambda: _tree_rss(proc, bool(timer)), 0.5) as sampler:
        _, err = proc.communicate()
        wall = time.perf_counter() - start
    peaks = [max((v[i] for v in sampler.samples), default=0) for i in (0, 1)]
    if proc.returncode != 0:
        raise RuntimeError(f"predict.py failed ({proc.returncode}): {err[-2000:]}")
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    return dict(
        rows=rows,
        rows_written=sum(1 for _ in out.open()) - 1,
        conformer_cache=bool(cache_dir),
        load_avg_1min_after=os.getloadavg()[0],
        wall_s=round(wall, 1),
        rows_per_s=round(rows / wall, 1),
        time_v_max_rss_mib=round(int(found.group(1)) / 1024, 1) if found else None,
        sampled_main_rss_mib=round(peaks[0] / 2**20, 1),
        sampled_tree_rss_mib=round(peaks[1] / 2**20, 1),
    )


def main() -> None:
    """Run both measurements and print a JSON summary as the last line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--molecules", type=int, default=200, help="SMILES for throughput")
    parser.add_argument("--rows", type=int, nargs="*", default=[10_000, 30_000, 100_000])
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="embedding workers")
    parser.add_argument("--batch-size", type=int, default=64)
    # without a cache warmed by one pass over the unique SMILES, 100k rows embed 100k times
    parser.add_argument("--no-cache", action="store_true", help="memory runs without a cache")
    parser.add_argument("--run-dir", type=Path, help="trained run (default: untrained small)")
    args = parser.parse_args()
    print("command:", command_line())
    info = machine()
    print("machine:", json.dumps(info))
    smiles = smiles_list()
    summary: dict = {"machine": info, "smiles_source": "esol.csv"}
    with tempfile.TemporaryDirectory(prefix="predict_bench_") as tmp:
        work = Path(tmp)
        run = args.run_dir or make_run(work / "small_run", SMALL, DEFAULT_CONFORMERS)
        result = throughput(run, smiles[: args.molecules], args.workers, args.batch_size)
        result.update(
            run=str(args.run_dir or "untrained model=small, conformers=default K=3"),
            workers=args.workers,
        )
        print("throughput:", json.dumps(result), flush=True)
        summary["throughput"] = result
        tiny = make_run(work / "tiny_run", TINY, FAST_CONFORMERS)
        summary["peak_rss"] = []
        cache = None if args.no_cache else work / "cache"
        if cache is not None and args.rows:  # cold pass over the unique SMILES fills the cache
            measured = peak_rss(tiny, len(smiles), smiles, args.workers, work, cache)
            print("peak_rss (cold, fills the cache):", json.dumps(measured), flush=True)
            summary["peak_rss_cold"] = measured
        for rows in args.rows:
            measured = peak_rss(tiny, rows, smiles, args.workers, work, cache)
            print("peak_rss:", json.dumps(measured), flush=True)
            summary["peak_rss"].append(measured)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
