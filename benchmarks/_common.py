"""Shared helpers for the benchmark scripts: paths, machine description, resumable JSONL."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
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


def claim(name: str) -> bool:
    """Mark run ``name`` as running in this process, unless a live process already has.

    Lets several queue lanes share one job list: a lane skips what another lane is running.
    The marker ``work/running/<name>`` holds the owner's PID; a dead owner's marker is taken
    over. Release it with :func:`release`.
    """
    marker = WORK / "running" / name
    marker.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                os.kill(int(marker.read_text().strip() or 0), 0)
                return False
            except (ProcessLookupError, ValueError, FileNotFoundError):
                marker.unlink(missing_ok=True)
                continue
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{os.getpid()}\n")
        return True
    return False


def release(name: str) -> None:
    """Remove the running marker of ``name`` (see :func:`claim`)."""
    (WORK / "running" / name).unlink(missing_ok=True)


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its reaped children (e.g. pool workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def busy_cpu_s() -> float | None:
    """Machine-wide busy CPU seconds (all cores) from /proc/stat."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def timed(cmd: list[str], log_path: Path, append: bool = False) -> dict:
    """Run ``cmd`` in the repo root, log to ``log_path``; wall, own CPU and others' CPU seconds."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    b0, t0 = busy_cpu_s(), time.perf_counter()
    with open(log_path, "a" if append else "w") as fh:
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        rc = subprocess.run(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT).returncode
    wall, b1 = time.perf_counter() - t0, busy_cpu_s()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    other = None if b0 is None or b1 is None else round(max(0.0, b1 - b0 - cpu), 1)
    return {"rc": rc, "wall_s": round(wall, 2), "cpu_s": round(cpu, 1), "other_cpu_s": other}
