"""BENCHMARKS.md section for ``benchmarks/results/gpu_check.json`` (``gpu_check.py``)."""

from __future__ import annotations

import json
from pathlib import Path

from _report_stats import md_head, md_row

SETUP_NAMES = {
    "cpu": "CPU cores, float32 (`trainer=cpu`)",
    "gpu_fp32": "GPU, float32 (`trainer=gpu trainer.precision=32-true`)",
    "gpu_bf16": "GPU, bf16-mixed (`trainer=gpu`)",
}


def _timing_rows(part: dict, model: str) -> list[str]:
    """One table row per trainer setup: s/epoch, the two runs' wall times, test RMSE."""
    rows = []
    cpu = (part.get("epoch_s") or {}).get("cpu")
    for setup, name in SETUP_NAMES.items():
        runs = sorted((r for r in part["train"] if r["setup"] == setup), key=lambda r: r["epochs"])
        if not runs:
            continue
        epoch = (part.get("epoch_s") or {}).get(setup)
        speedup = f"{cpu / epoch:.2f}×" if cpu and epoch else "–"
        walls = " / ".join(f"{r['wall_s']:.1f} s ({r['epochs']} ep)" for r in runs)
        rmse = runs[-1].get("test_rmse_bagged")
        rmse_txt = f"{rmse:.4f}" if rmse is not None else "failed"
        epoch_txt = f"{epoch:.2f}" if epoch is not None else "–"
        rows.append(md_row([model, name, epoch_txt, speedup, walls, rmse_txt]))
    return rows


def gpu_section(results: Path) -> list[str]:
    """Section 4: CUDA symmetry tests, training and prediction on GPU against CPU."""
    path = results / "gpu_check.json"
    out = ["## 4. GPU check", ""]
    if not path.exists():
        return out + ["Not run (no `benchmarks/results/gpu_check.json`).", ""]
    rec = json.loads(path.read_text())
    me, tests = rec["machine"], rec["symmetry_tests"]
    out += [
        f"`{rec['command']}` on {me['date']}: {me['gpu']}, {me['nproc']} CPU cores "
        f"({me['cpu']}), torch {me['torch']} (CUDA {me['cuda']}), Python {me['python']}. "
        "One run of each cell: single timings, not medians.",
        "",
        f"- Backbone symmetry checks on CUDA (`python -m pytest {tests['command'].split()[-1]} "
        f"--device cuda`): {tests.get('passed', 0)} passed, {tests.get('failed', 0)} failed, "
        f"{tests.get('skipped', 0)} skipped, in {tests['wall_s']} s.",
    ]
    diff = rec.get("predict_max_abs_diff_cuda_vs_cpu")
    pred = {p["device"]: p for p in rec.get("predict", [])}
    if diff is not None and {"cuda", "cpu"} <= pred.keys():
        out += [
            f"- `predict.py --device cuda` against `--device cpu`, same run and "
            f"{pred['cuda']['rows']} SMILES: largest absolute difference {diff:.1e} over every "
            f"output column (the CSV keeps 7 significant digits); wall {pred['cuda']['wall_s']} "
            f"s against {pred['cpu']['wall_s']} s, process start and conformer loading included.",
        ]
    out += [
        "- Training: `python train.py` on the default data (ChEMBL Free-Wilson, 1017 "
        "molecules, K=3), batch 32. Seconds per epoch = difference of a short and a long run "
        "divided by the extra epochs (process start, conformer loading and testing cancel); "
        "test RMSE is the long run's.",
        "",
    ]
    out += md_head(["model", "trainer", "s / epoch", "CPU ÷ this", "wall", "test RMSE"])
    out += _timing_rows(rec, "small (default)")
    if rec.get("big_model"):
        out += _timing_rows(rec["big_model"], rec["big_model"]["model"])
    return out + [""]
