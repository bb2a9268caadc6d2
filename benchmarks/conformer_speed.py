"""Conformer throughput of molprop's pipeline against a plain RDKit loop (not a test).

BENCHMARKS.md ("Conformer generation and prediction speed") has the command and the columns:
for each ``K:optimize`` setting, molecules/s of a plain RDKit loop and of molprop with 1 and 2
workers, and a cold build against a warm-cache rebuild. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd
import rdkit
from rdkit import Chem
from rdkit.Chem import rdDistGeom, rdForceFieldHelpers
from rdkit.rdBase import BlockLogs

from benchmarks._common import ESOL, clock, command_line, machine
from molprop.chem.config import ConformerConfig
from molprop.chem.molecules import molecule_seed
from molprop.data.conformer_jobs import build_ensembles


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=200, help="first N molecules")
    parser.add_argument(
        "--configs", nargs="+", default=["1:none", "1:mmff", "10:none", "10:mmff"], help="K:opt"
    )
    args = parser.parse_args(argv)
    print("command:", command_line())
    print("machine:", json.dumps({**machine(), "rdkit": rdkit.__version__}))
    summary = dict(input=ESOL.name, limit=args.limit, load_before=os.getloadavg())
    smiles = pd.read_csv(ESOL)["smiles"].tolist()[: args.limit]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for item in args.configs:
            k, optimize = item.split(":")
            rows.append(run_config(smiles, int(k), optimize, Path(tmp)))
            print(f"  done K={k} {optimize}", flush=True)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    results = [{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()} for r in rows]
    print(json.dumps({**summary, "load_after": os.getloadavg(), "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
