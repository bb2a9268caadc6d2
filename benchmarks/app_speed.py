"""Speed of the app's conformer stage and of prediction, on ESOL molecules (not a test).

BENCHMARKS.md ("Conformer generation and prediction speed") has the commands and the columns:
``conformers`` against a plain RDKit loop, 1 and 2 workers, cold and warm cache; ``predict``
throughput of an untrained ``model=small`` run, then the peak RSS of ``predict.py`` streaming
R rows. The last line printed is the JSON record.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import rdkit
from rdkit import Chem
from rdkit.Chem import rdDistGeom, rdForceFieldHelpers
from rdkit.rdBase import BlockLogs

from benchmarks._common import ESOL, REPO, clock, machine, sampling
from molprop.chem.config import ConformerConfig
from molprop.chem.molecules import molecule_seed
from molprop.data.conformer_jobs import build_ensembles

# smaller than conf/model/tiny.yaml, for the memory runs; their conformers: no MMFF or pruning
TINY = dict(num_layers=1, max_degree=1, channels=4, num_heads=2, radial_hidden=8)
TINY.update(num_radial=6, head_hidden=8)
FAST_CONFORMERS = dict(prune_rms=0.0, max_attempts=2, optimize="none")
WORKERS = os.cpu_count()  # conformer workers of predict


def plain_loop(smiles: list[str], cfg: ConformerConfig) -> int:
    """The reference: a bare RDKit loop doing the same embedding and optimisation."""
    count = 0
    with BlockLogs():
        for smi in smiles:
            mol = Chem.AddHs(Chem.MolFromSmiles(smi))
            params = rdDistGeom.ETKDGv3()
            params.randomSeed = molecule_seed(cfg.seed, smi)
            params.pruneRmsThresh = cfg.prune_rms
            params.numThreads = 1
            cids = rdDistGeom.EmbedMultipleConfs(mol, cfg.pool_size, params)
            if cfg.optimize == "mmff" and len(cids):
                rdForceFieldHelpers.MMFFOptimizeMoleculeConfs(
                    mol, numThreads=1, maxIters=cfg.max_iters
                )
            count += len(cids)
    return count


def run_config(smiles: list[str], k: int, optimize: str, work: Path) -> dict:
    """All measurements for one (K, optimize) setting."""
    cfg = ConformerConfig(pool_size=k, optimize=optimize, seed=0, timeout=None)
    n = len(smiles)
    plain_wall, plain_cpu, _ = clock(plain_loop, smiles, cfg)
    one_wall, one_cpu, ens = clock(
        build_ensembles, smiles, cfg, num_workers=1, cache_dir=work / f"c1_{k}_{optimize}"
    )
    cold_dir = work / f"c2_{k}_{optimize}"
    two_wall, two_cpu, _ = clock(build_ensembles, smiles, cfg, num_workers=2, cache_dir=cold_dir)
    warm_wall, _, warm = clock(build_ensembles, smiles, cfg, num_workers=2, cache_dir=cold_dir)
    assert warm.embedded == 0, "warm rebuild embedded molecules"
    return dict(
        K=k, optimize=optimize, molecules=n, failures=sum(e is not None for e in ens.errors),
        conformers=sum(len(e) for e in ens.ensembles if e is not None),
        plain_mol_s=n / plain_wall, molprop_1w_mol_s=n / one_wall,
        ratio_wall=plain_wall / one_wall, ratio_cpu=plain_cpu / one_cpu,
        molprop_2w_mol_s=n / two_wall, speedup_1_to_2=one_wall / two_wall,
        cpu_2w_over_1w=two_cpu / one_cpu,
        cold_s=two_wall, warm_s=warm_wall, warm_speedup=two_wall / warm_wall,
    )  # fmt: skip


def make_run(path: Path, backbone: dict, conformers: dict) -> Path:
    """Save an untrained single-task regression run (``conformers``: changed defaults)."""
    import torch  # here: the conformer benchmark's processes (forked workers) stay without torch

    from molprop import artifacts
    from molprop.data.featurize import ATOM_FEATURE_DIM, BOND_FEATURE_DIM

    backbone = dict(backbone, in_dim=ATOM_FEATURE_DIM, edge_dim=BOND_FEATURE_DIM, out_dim=1)
    data = dict(smiles_column="smiles", largest_fragment=True)
    spec = artifacts.ModelSpec("regression", ["y"], backbone, [0.0], [1.0], conformers, data=data)
    artifacts.save_spec(path, spec)
    torch.manual_seed(0)
    artifacts.save_member(path, 0, artifacts.build_model(spec))
    return path


def throughput(run_dir: Path, smiles: list[str]) -> dict:
    """Molecules per second (and per CPU second, which others' load does not change)."""
    from molprop.inference.predictor import Predictor
    from molprop.inference.stream import predict

    load_s, _, predictor = clock(Predictor.from_run_dir, run_dir)
    wall, cpu, frame = clock(predict, predictor, smiles=smiles, workers=WORKERS, batch_size=64)
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


def peak_rss(run_dir: Path, rows: int, smiles: list[str], work: Path) -> dict:
    """Run predict.py on ``rows`` rows (conformer cache in ``work``) while sampling its RSS."""
    csv, out = work / f"rows_{rows}.csv", work / f"out_{rows}.csv"
    repeated = [smiles[i % len(smiles)] for i in range(rows)]
    pd.DataFrame({"id": range(rows), "smiles": repeated}).to_csv(csv, index=False)
    cmd = [sys.executable, str(REPO / "predict.py"), str(run_dir), "--input", str(csv)]
    cmd += ["--output", str(out), "--num-conformers", "1", "--workers", str(WORKERS), "--quiet"]
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


def conformers(args, work: Path) -> dict:
    """The conformer stage against the plain loop, for K = 1 and 10, with and without MMFF."""
    summary = dict(input=ESOL.name, limit=args.limit, load_before=os.getloadavg())
    smiles = pd.read_csv(ESOL)["smiles"].tolist()[: args.limit]
    rows = []
    for k, optimize in itertools.product((1, 10), ("none", "mmff")):
        rows.append(run_config(smiles, k, optimize, work))
        print(f"  done K={k} {optimize}", flush=True)
    results = [{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()} for r in rows]
    return {**summary, "load_after": os.getloadavg(), "results": results}


def predict(args, work: Path) -> dict:
    """Throughput of an untrained ``model=small`` run, then predict.py's peak RSS per ``--rows``."""
    from benchmarks.backbone_step import model_kwargs

    summary: dict = {"machine": machine(), "smiles_source": ESOL.name}
    smiles = pd.read_csv(ESOL)["smiles"].drop_duplicates().tolist()
    small = make_run(work / "small_run", model_kwargs("small"), {})
    result = summary["throughput"] = throughput(small, smiles[: args.molecules])
    result.update(run="untrained model=small, conformers=default K=3", workers=WORKERS)
    print("throughput:", json.dumps(result), flush=True)
    tiny = make_run(work / "tiny_run", TINY, FAST_CONFORMERS)
    summary["peak_rss"] = []
    if args.rows:  # a cold pass over the unique SMILES fills the cache: 100k rows stay cheap
        summary["peak_rss_cold"] = peak_rss(tiny, len(smiles), smiles, work)
        print("peak_rss (cold, fills the cache):", json.dumps(summary["peak_rss_cold"]))
    for rows in args.rows:
        summary["peak_rss"].append(peak_rss(tiny, rows, smiles, work))
        print("peak_rss:", json.dumps(summary["peak_rss"][-1]), flush=True)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    conf = sub.add_parser("conformers", help="the conformer stage against plain RDKit")
    conf.add_argument("--limit", type=int, default=200, help="first N molecules")
    pred = sub.add_parser("predict", help="predict throughput and peak memory")
    pred.add_argument("--molecules", type=int, default=200, help="SMILES for throughput")
    pred.add_argument("--rows", type=int, nargs="*", default=[10_000, 30_000, 100_000])
    args = parser.parse_args(argv)
    print("command:", shlex.join([os.path.basename(sys.executable), *sys.argv]))
    print("machine:", json.dumps({**machine(), "rdkit": rdkit.__version__}))
    with tempfile.TemporaryDirectory(prefix="app_speed_") as tmp:
        record = (conformers if args.what == "conformers" else predict)(args, Path(tmp))
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
