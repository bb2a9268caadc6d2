"""One molprop benchmark run: train via ``train.py`` (Hydra), then time ``predict.py`` on test.

Shared by ``accuracy.py`` and ``bagging_ablation.py``. Each run appends one JSON line to
``benchmarks/results/molprop.jsonl``; (dataset, split, setup, seed) already there are skipped,
and an interrupted training continues from its last checkpoint (``_resume.py``).
The test metric is recomputed here in plain Python from ``predict.py``'s output on the test SMILES
(same scoring code as the chemprop baseline), and cross-checked against the run's ``metrics.json``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import sys
import time
from pathlib import Path

from _common import (
    CLASSIFICATION,
    REPO,
    RESULTS,
    SPLITS_DIR,
    WORK,
    append_jsonl,
    log,
    machine,
    read_jsonl,
    timed,
)
from _resume import train_segment
from _scoring import score_predictions, test_rows

OUT = RESULTS / "molprop.jsonl"
#: setup name -> (K conformers bagged, M ensemble members)
SETUPS = {
    "k1": (1, 1),
    "k3": (3, 1),
    "k10": (10, 1),
    "k20": (20, 1),
    "k10_ens3": (10, 3),
    # ensemble-size ablation: five members at K=10
    "k10_ens5": (10, 5),
    # three members, each trained and bagged at K=20
    "k20_ens3": (20, 3),
    # model-size ablation (K=10, one model): conf/model/tiny.yaml and conf/model/default.yaml
    # against the experiment configs' model=small
    "k10_mtiny": (10, 1),
    "k10_mdefault": (10, 1),
}
#: extra Hydra overrides of a setup
SETUP_OVERRIDES = {"k10_mtiny": ["model=tiny"], "k10_mdefault": ["model=default"]}
#: conformers generated per molecule (the first K, lowest energy, are used): one shared cache
GENERATED = 10


def train_overrides(dataset: str, split: str, setup: str, seed: int, run_dir: Path) -> list[str]:
    """Hydra overrides for one run (config keys of conf/; see conf/experiment/<dataset>.yaml)."""
    k, m = SETUPS[setup]
    return [
        f"experiment={dataset}",
        "data.split=file",
        f"++data.split_file={SPLITS_DIR / (dataset + '.json')}",
        f"data.split_key={split}",
        f"seed={seed}",
        f"conformers.pool_size={max(k, GENERATED)}",
        f"bagging.num_conformers={k}",
        f"ensemble.size={m}",
        "ensemble.bootstrap=false",
        f"paths.output_dir={run_dir}",
        f"hydra.run.dir={run_dir}",
        *SETUP_OVERRIDES.get(setup, []),
    ]


def predict_command(run_dir: Path, inp: Path, out: Path) -> list[str]:
    """``predict.py`` command line scoring ``inp`` (a SMILES CSV) with the model in ``run_dir``."""
    return [
        sys.executable,
        "predict.py",
        str(run_dir),
        "--input",
        str(inp),
        "--output",
        str(out),
        "--quiet",
    ]


def find_metric(metrics: dict, names: tuple[str, ...]) -> float | None:
    """Search a (possibly nested) metrics.json for the first key among ``names``."""
    flat: dict = {}

    def walk(d: dict, prefix: str) -> None:
        for k, v in d.items():
            key = f"{prefix}/{k}" if prefix else str(k)
            if isinstance(v, dict):
                walk(v, key)
            else:
                flat[key] = v

    walk(metrics, "")
    for n in names:
        if n in flat and isinstance(flat[n], (int, float)):
            return float(flat[n])
    return None


def summarise_metrics_json(path: Path, dataset: str) -> dict:
    """Pull test metrics (single conformer / bagged / ensemble) and spread Spearman values.

    metrics.json (molprop/report.py) holds ``test/{single_conformer,bagged_conformers,
    bagged_ensemble}/<metric>`` and ``spread_error_spearman/test/bagged_ensemble/
    {conformer_std,ensemble_std}``; ``bagged_ensemble`` equals ``bagged_conformers`` when M=1.
    """
    if not path.exists():
        return {}
    m = json.loads(path.read_text())
    metric = "roc_auc" if dataset in CLASSIFICATION else "rmse"
    sp = "spread_error_spearman/test/bagged_ensemble"
    return {
        "metrics_json_test": find_metric(m, (f"test/bagged_ensemble/{metric}",)),
        "metrics_json_test_single_conformer": find_metric(m, (f"test/single_conformer/{metric}",)),
        "metrics_json_test_bagged_member0": find_metric(m, (f"test/bagged_conformers/{metric}",)),
        "spearman_conformer": find_metric(m, (f"{sp}/conformer_std",)),
        "spearman_ensemble": find_metric(m, (f"{sp}/ensemble_std",)),
        "metrics_json": m,
    }


def _stamp(line: str) -> float | None:
    """Seconds since epoch of a ``[YYYY-mm-dd HH:MM:SS,mmm]`` log prefix, else None."""
    m = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})\]", line)
    if not m:
        return None
    t = time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S"))
    return t + int(m.group(2)) / 1000


def conformer_stats(train_log: Path) -> dict:
    """Conformer-generation summary of the training log (how many of K really exist), and the
    seconds from the first log line to the conformer summary (the conformer stage)."""
    text = train_log.read_text(errors="replace") if train_log.exists() else ""
    stamps = [(t, ln) for ln in text.splitlines() if (t := _stamp(ln)) is not None]
    loaded = next((t for t, ln in stamps if "Loaded processed graphs" in ln), None)
    if loaded is not None and "Conformers:" not in text:
        return {"processed_cache_hit": True, "conformer_stage_s": round(loaded - stamps[0][0], 1)}
    m = re.search(
        r"Conformers: (\d+) (?:unique )?molecules, (\d+) embedded, (\d+) from cache, "
        r"(\d+) failed, "
        r"(\d+) with fewer than K=(\d+) distinct conformers \(mean ([\d.]+)\)",
        text,
    )
    if not m:
        return {}
    mols, emb, cached, failed, fewer, k, mean = m.groups()
    out = {
        "conformers_embedded": int(emb),
        "conformers_from_cache": int(cached),
        "conformers_failed": int(failed),
        "conformers_fewer_than_generated": int(fewer),
        "conformers_generated_k": int(k),
        "conformers_mean_distinct": float(mean),
    }
    done_at = next((t for t, ln in stamps if "Conformers:" in ln), None)
    if stamps and done_at is not None:
        out["conformer_stage_s"] = round(done_at - stamps[0][0], 1)
    return out


def param_count(train_log: Path) -> dict:
    """Trainable parameter count from Lightning's model summary in the training log."""
    text = train_log.read_text(errors="replace") if train_log.exists() else ""
    m = re.search(r"Trainable params: ([\d.]+) ?([KMB]?)", text)
    if not m:
        return {}
    scale = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9}[m.group(2)]
    return {"trainable_params": int(round(float(m.group(1)) * scale))}


def run_name(dataset: str, split: str, setup: str, seed: int, tag: str = "") -> str:
    """Name of one run: its directory under ``work/runs/``, its logs and its markers."""
    return f"{dataset}_{split}_{setup}_s{seed}{tag}"


def mark_failed(name: str) -> None:
    """Leave a marker so queued re-invocations do not retry a failing run forever."""
    (WORK / "failed").mkdir(parents=True, exist_ok=True)
    (WORK / "failed" / name).write_text(time.strftime("%Y-%m-%d %H:%M:%S") + "\n")


def failed_before(dataset: str, split: str, setup: str, seed: int, tag: str = "") -> bool:
    """Whether this combination left a failure marker (see :func:`mark_failed`)."""
    return (WORK / "failed" / run_name(dataset, split, setup, seed, tag)).exists()


def code_digest() -> str:
    """SHA-256 (first 12 hex) of molprop/**/*.py, conf/**/*.yaml, train.py and predict.py.

    The app is under active development; this ties each result to the code that produced it.
    """
    h = hashlib.sha256()
    files = sorted(
        [
            *REPO.glob("molprop/**/*.py"),
            *REPO.glob("conf/**/*.yaml"),
            REPO / "train.py",
            REPO / "predict.py",
        ]
    )
    for f in files:
        if f.is_file():
            h.update(str(f.relative_to(REPO)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def done(dataset: str, split: str, setup: str, seed: int, results: Path = OUT) -> bool:
    """Whether this combination is already in the results file."""
    return any(
        (r["dataset"], r["split"], r["setup"], r["seed"]) == (dataset, split, setup, seed)
        for r in read_jsonl(results)
    )


def run_one(
    dataset: str,
    split: str,
    setup: str,
    seed: int,
    extra: list[str],
    tag: str = "",
    keep: bool = False,
    results: Path = OUT,
) -> dict | None:
    """Train + predict one combination; append and return its record (None on failure)."""
    name = run_name(dataset, split, setup, seed, tag)
    run_dir = WORK / "runs" / name
    overrides = train_overrides(dataset, split, setup, seed, run_dir)
    cmd = [sys.executable, "train.py", *overrides, *extra]
    code = code_digest()
    tr = train_segment(cmd, run_dir, code, WORK / f"{name}.train.log")
    if tr["rc"] != 0:
        mark_failed(name)
        log(f"FAILED train {name} rc={tr['rc']}; see {WORK / (name + '.train.log')}")
        return None
    smiles, y = test_rows(dataset, split)
    inp, out = run_dir / "bench_test_input.csv", run_dir / "bench_test_preds.csv"
    with open(inp, "w", newline="") as fh:
        csv.writer(fh).writerows([["smiles"], *[[s] for s in smiles]])
    pr = timed(predict_command(run_dir, inp, out), WORK / f"{name}.predict.log")
    k, m = SETUPS[setup]
    rec = {
        "tool": "molprop",
        "dataset": dataset,
        "split": split,
        "setup": setup,
        "K": k,
        "M": m,
        "seed": seed,
        "code_sha": code,
        "task": "classification" if dataset in CLASSIFICATION else "regression",
        "n_test": len(y),
        "train_wall_s": tr["wall_s"],
        "train_cpu_s": tr["cpu_s"],
        "train_other_cpu_s": tr["other_cpu_s"],
        **({"train_segments": tr["segments"]} if len(tr["segments"]) > 1 else {}),
        "predict_wall_s": pr["wall_s"] if pr["rc"] == 0 else None,
        "predict_other_cpu_s": pr["other_cpu_s"],
    }
    if pr["rc"] == 0:
        rec["predict_mol_per_s"] = round(len(y) / pr["wall_s"], 1)
        rec.update(score_predictions(dataset, out, y))
    else:
        log(f"predict failed for {name}; metric taken from metrics.json only")
    summary = summarise_metrics_json(run_dir / "metrics.json", dataset)
    summary.update(conformer_stats(WORK / f"{name}.train.log"))
    summary.update(param_count(WORK / f"{name}.train.log"))
    key = "test_roc_auc" if dataset in CLASSIFICATION else "test_rmse"
    if key not in rec and summary.get("metrics_json_test") is not None:
        rec[key] = round(summary["metrics_json_test"], 4)
        rec["metric_source"] = "metrics.json"
    rec.update(summary)
    rec.update(
        {
            "command": " ".join(cmd),
            "predict_command": " ".join(predict_command(run_dir, inp, out)),
            "extra_overrides": extra,
            "machine": machine(),
        }
    )
    append_jsonl(results, rec)
    with open(WORK / "timings.log", "a") as fh:
        fh.write(
            f"{rec['machine']['date']}  {name}: train {tr['wall_s']:.0f}s wall "
            f"({tr['cpu_s']}s CPU, others {tr['other_cpu_s']}s), predict "
            f"{pr['wall_s']:.0f}s, {key}={rec.get(key)}\n"
        )
    log(f"done {name}: {key}={rec.get(key)} train={tr['wall_s']}s predict={pr['wall_s']}s")
    if not keep:
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    return rec
