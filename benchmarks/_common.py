"""Paths, machine description, JSONL records and timed subprocesses of the benchmarks.

Standard library only and no package-relative imports, so that scripts of this folder which
are still run by path (``python benchmarks/gpu_check.py``) can import it as ``_common`` too.
"""

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
RESULTS = REPO / "benchmarks" / "results"
WORK = REPO / "benchmarks" / "work"


def command_line() -> str:
    """The command line this process was started with, shell-quoted."""
    return " ".join(shlex.quote(a) for a in [os.path.basename(sys.executable), *sys.argv])


def _proc_field(path: str, prefix: str) -> str | None:
    """Text after ``prefix`` on the first matching line of a /proc file, else None."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine() -> dict:
    """Describe the machine: nproc, CPU model, RAM (GiB), Python, load average, date (UTC)."""
    mem = _proc_field("/proc/meminfo", "MemTotal")
    return {
        "nproc": os.cpu_count(),
        "cpu": _proc_field("/proc/cpuinfo", "model name") or "unknown",
        "ram_gib": round(int(mem.split()[0]) / 2**20, 1) if mem else None,
        "python": platform.python_version(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def read_jsonl(path: Path) -> list[dict]:
    """Records of a JSONL file; a missing file gives ``[]``, a torn last line is skipped."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def append_jsonl(path: Path, record: dict) -> None:
    """Append one record as a JSON line, flushed at once so a crash loses nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fh.write(json.dumps(record) + "\n")


def log(msg: str) -> None:
    """Print a timestamped progress line."""
    print(f"[{_dt.datetime.now():%H:%M:%S}] {msg}", flush=True)


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its reaped children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def busy_cpu_s() -> float | None:
    """Machine-wide busy CPU seconds (all cores) from /proc/stat, else None."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def timed(cmd: list[str], log_path: Path, append: bool = False) -> dict:
    """Run ``cmd`` in the repository root with its output in ``log_path``.

    Returns:
        ``rc``, ``wall_s``, ``cpu_s`` (the command's own CPU seconds) and ``other_cpu_s``
        (CPU seconds every other process on the machine used meanwhile; None off Linux).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    b0, t0 = busy_cpu_s(), time.perf_counter()
    with open(log_path, "a" if append else "w") as fh:
        fh.write("$ " + shlex.join(cmd) + "\n")
        fh.flush()
        rc = subprocess.run(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT).returncode
    wall, b1 = time.perf_counter() - t0, busy_cpu_s()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    other = None if b0 is None or b1 is None else round(max(0.0, b1 - b0 - cpu), 1)
    return {"rc": rc, "wall_s": round(wall, 2), "cpu_s": round(cpu, 1), "other_cpu_s": other}
