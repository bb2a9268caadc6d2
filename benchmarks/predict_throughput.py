"""Predict throughput (molecules/s, conformers included) and peak memory (not a test).

BENCHMARKS.md ("Conformer generation and prediction speed") has the command and both parts:
``molprop.inference.stream.predict`` of the first N ESOL SMILES with an untrained
``model=small`` run, then the peak RSS of ``predict.py`` streaming CSVs of R rows (a tiny
model, conformers from a cache that a cold pass fills). The last line printed is JSON.
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
from pathlib import Path

import pandas as pd

from benchmarks._common import ESOL, REPO, clock, command_line, machine, sampling
from benchmarks.backbone_step import model_kwargs

# smaller than conf/model/tiny.yaml, for the memory runs; their conformers: no MMFF or pruning
TINY = dict(num_layers=1, max_degree=1, channels=4, num_heads=2, radial_hidden=8)
TINY.update(num_radial=6, head_hidden=8)
FAST_CONFORMERS = dict(prune_rms=0.0, max_attempts=2, optimize="none")


def make_run(path: Path, backbone: dict, conformers: dict) -> Path:
    """Save an untrained single-task regression run (``conformers``: changed defaults)."""
    import torch

    from molprop import artifacts
    from molprop.data.featurize import ATOM_FEATURE_DIM, BOND_FEATURE_DIM

    backbone = dict(backbone, in_dim=ATOM_FEATURE_DIM, edge_dim=BOND_FEATURE_DIM, out_dim=1)
    data = dict(smiles_column="smiles", largest_fragment=True)
    spec = artifacts.ModelSpec("regression", ["y"], backbone, [0.0], [1.0], conformers, data=data)
    artifacts.save_spec(path, spec)
    torch.manual_seed(0)
    artifacts.save_member(path, 0, artifacts.build_model(spec))
    return path


def throughput(run_dir: Path, smiles: list[str], workers: int) -> dict:
    """Molecules per second (and per CPU second, which others' load does not change)."""
    from molprop.inference.predictor import Predictor
    from molprop.inference.stream import predict

    load_s, _, predictor = clock(Predictor.from_run_dir, run_dir)
    wall, cpu, frame = clock(predict, predictor, smiles=smiles, workers=workers, batch_size=64)
    n = len(smiles)
    return dict(
        molecules=n, predicted=int((frame["error"] == "").sum()), load_s=round(load_s, 2),
        wall_s=round(wall, 2), molecules_per_s=round(n / wall, 2), cpu_s=round(cpu, 1),
        molecules_per_cpu_s=round(n / cpu, 2), load_avg_1min_after=os.getloadavg()[0],
        mean_conformers=round(float(frame["num_conformers"].mean()), 2),
    )  # fmt: skip


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


def peak_rss(run_dir: Path, rows: int, smiles: list[str], workers: int, work: Path) -> dict:
    """Run predict.py on ``rows`` rows (conformer cache in ``work``) while sampling its RSS."""
    csv, out = work / f"rows_{rows}.csv", work / f"out_{rows}.csv"
    repeated = [smiles[i % len(smiles)] for i in range(rows)]
    pd.DataFrame({"id": range(rows), "smiles": repeated}).to_csv(csv, index=False)
    cmd = [sys.executable, str(REPO / "predict.py"), str(run_dir), "--input", str(csv)]
    cmd += ["--output", str(out), "--num-conformers", "1", "--workers", str(workers), "--quiet"]
    cmd += ["--cache-dir", str(work / "cache")]
    timer = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    proc = subprocess.Popen(timer + cmd, stderr=subprocess.PIPE, text=True)
    with sampling(lambda: _tree_rss(proc, bool(timer)), 0.5) as samples:
        wall, _, (_, err) = clock(proc.communicate)
    if proc.returncode != 0:
        raise RuntimeError(f"predict.py failed ({proc.returncode}): {err[-2000:]}")
    peaks = [max((v[i] for v in samples), default=0) / 2**20 for i in (0, 1)]
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    return dict(
        rows=rows, rows_written=sum(1 for _ in out.open()) - 1, conformer_cache=True,
        load_avg_1min_after=os.getloadavg()[0], wall_s=round(wall, 1),
        rows_per_s=round(rows / wall, 1),
        time_v_max_rss_mib=round(int(found.group(1)) / 1024, 1) if found else None,
        sampled_main_rss_mib=round(peaks[0], 1), sampled_tree_rss_mib=round(peaks[1], 1),
    )  # fmt: skip


def main() -> None:
    """Run both measurements and print a JSON summary as the last line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--molecules", type=int, default=200, help="SMILES for throughput")
    parser.add_argument("--rows", type=int, nargs="*", default=[10_000, 30_000, 100_000])
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="embedding workers")
    args = parser.parse_args()
    print("command:", command_line())
    summary: dict = {"machine": machine(), "smiles_source": ESOL.name}
    print("machine:", json.dumps(summary["machine"]))
    smiles = pd.read_csv(ESOL)["smiles"].drop_duplicates().tolist()
    with tempfile.TemporaryDirectory(prefix="predict_bench_") as tmp:
        work = Path(tmp)
        small = make_run(work / "small_run", model_kwargs("small"), {})
        result = throughput(small, smiles[: args.molecules], args.workers)
        result.update(run="untrained model=small, conformers=default K=3", workers=args.workers)
        print("throughput:", json.dumps(result), flush=True)
        summary["throughput"] = result
        tiny = make_run(work / "tiny_run", TINY, FAST_CONFORMERS)
        summary["peak_rss"] = []
        if args.rows:  # a cold pass over the unique SMILES fills the cache: 100k rows stay cheap
            summary["peak_rss_cold"] = peak_rss(tiny, len(smiles), smiles, args.workers, work)
            print("peak_rss (cold, fills the cache):", json.dumps(summary["peak_rss_cold"]))
        for rows in args.rows:
            summary["peak_rss"].append(peak_rss(tiny, rows, smiles, args.workers, work))
            print("peak_rss:", json.dumps(summary["peak_rss"][-1]), flush=True)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
