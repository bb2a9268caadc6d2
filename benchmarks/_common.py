"""Shared helpers for the benchmark scripts: paths, machine description, resumable JSONL."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = (REPO / ".." / "shared").resolve()
DATA_DIR = SHARED / "data"
SPLITS_DIR = DATA_DIR / "splits"
RESULTS = REPO / "benchmarks" / "results"
WORK = REPO / "benchmarks" / "work"
PLOTS = REPO / "benchmarks" / "plots"

DATASETS = ("esol", "freesolv", "bbbp", "lipo")
SPLITS = ("scaffold", "random_seed0")
SEEDS = (0, 1, 2)
CLASSIFICATION = {"bbbp"}


def metric_name(dataset: str) -> str:
    """Name of the headline test metric for a dataset (`test_rmse` or `test_roc_auc`)."""
    return "test_roc_auc" if dataset in CLASSIFICATION else "test_rmse"


def command_line() -> str:
    """The exact command line this process was started with, shell-quoted."""
    return " ".join(shlex.quote(a) for a in [os.path.basename(sys.executable), *sys.argv])


def machine() -> dict:
    """Describe the machine: nproc, CPU model, RAM, Python, date (UTC)."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram_gib = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "ram_gib": ram_gib,
        "python": platform.python_version(),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def read_jsonl(path: Path) -> list[dict]:
    """Read a JSONL file; missing file -> []; undecodable lines are skipped."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def append_jsonl(path: Path, record: dict) -> None:
    """Append one record as a JSON line (flushes immediately so a crash loses nothing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()


def log(msg: str) -> None:
    """Print a timestamped progress line."""
    stamp = _dt.datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {msg}", flush=True)
