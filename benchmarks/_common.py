"""Paths, machine description, JSONL records, clocks, training steps and worker subprocesses.

Standard library only, so that a worker running in another environment (the backbone peer's
venv) can import it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = (REPO / ".." / "shared").resolve()
DATA_DIR = SHARED / "data"
RESULTS = REPO / "benchmarks" / "results"
WORK = REPO / "benchmarks" / "work"
ESOL = DATA_DIR / "esol.csv"
DIGITS = 5  # decimals of the per-molecule columns kept in records


def _proc_field(path: str, prefix: str) -> str | None:
    """Text after ``prefix`` on the first matching line of a /proc file, else None."""
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
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
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        with contextlib.suppress(json.JSONDecodeError):
            out.append(json.loads(line))
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
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def clock(fn, *args, **kwargs) -> tuple[float, float, object]:
    """(wall seconds, :func:`cpu_seconds`, result) of one call ``fn(*args, **kwargs)``."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    out = fn(*args, **kwargs)
    return time.perf_counter() - wall, cpu_seconds() - cpu, out


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (``ru_maxrss``), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def train_step(opt, forward):
    """Closure ``step(*inputs)``: one ``forward(*inputs)``, backward of its mean square, ``opt``."""

    def step(*inputs):
        opt.zero_grad(set_to_none=True)
        forward(*inputs).square().mean().backward()
        opt.step()

    return step


def time_steps(steps: dict, repeats: int, *inputs, warm_up=True) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds of each ``step(*inputs)``, interleaved so all see one load."""
    samples = {key: [] for key in steps}
    for step in steps.values() if warm_up else ():  # untimed: first calls allocate and cache
        step(*inputs)
    for _ in range(repeats):
        for key, step in steps.items():
            samples[key].append(clock(step, *inputs)[:2])
    med = statistics.median
    return {key: (med(s[0] for s in v), med(s[1] for s in v)) for key, v in samples.items()}


def _cap_address_space(cap_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))
    with contextlib.suppress(OSError):  # make the kernel's OOM killer pick this process first
        Path("/proc/self/oom_score_adj").write_text("1000")


def spawn(module: str, config: dict, python=sys.executable, cap_gib=None, timeout=None) -> dict:
    """Run ``python -m module --worker CONFIG`` in one thread, under ``cap_gib`` of address space.

    Returns:
        The worker's :func:`serve` result, else ``status``: ``timeout``, ``oom`` (killed or out
        of memory) or ``error`` (with the last line of its stderr).
    """
    cmd = [python, "-m", module, "--worker", json.dumps(config)]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["CACHE_PATH"] = str(WORK / "peer-basis-cache")  # se3-transformer-pytorch's basis cache
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    limit = None if cap_gib is None else (lambda: _cap_address_space(int(cap_gib * 2**30)))
    opts = dict(cwd=REPO, capture_output=True, text=True, env=env, preexec_fn=limit)
    try:
        proc = subprocess.run(cmd, timeout=timeout, **opts)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "timeout_s": timeout}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
    oom = proc.returncode < 0 or "memory" in tail.lower()
    return {"status": "oom" if oom else "error", "returncode": proc.returncode, "error": tail}


def serve(fn, config: str) -> None:
    """Worker side of :func:`spawn`: print ``fn(settings)`` as its ``RESULT`` line.

    Running out of memory is a result (``status: oom`` and the peak reached), not a crash.
    """
    try:
        result = {"status": "ok", **fn(json.loads(config))}
    except (MemoryError, RuntimeError) as err:
        if "memory" not in str(err).lower() and not isinstance(err, MemoryError):
            raise
        error = str(err).splitlines()[0][:120]
        result = {"status": "oom", "error": error, "peak_mib": peak_rss_mib()}
    print("RESULT " + json.dumps(result), flush=True)


@contextlib.contextmanager
def sampling(fn, interval: float):
    """Inside ``with``: ``fn()`` every ``interval`` s in a thread, into the yielded list.

    Sampling stops early when ``fn`` returns None.
    """
    samples, stop = [], threading.Event()

    def sample() -> None:
        while not stop.is_set() and (value := fn()) is not None:
            samples.append(value)
            stop.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join(timeout=10)


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
    busy = busy_cpu_s()
    with open(log_path, "a" if append else "w") as fh:
        fh.write("$ " + shlex.join(cmd) + "\n")
        fh.flush()  # this process only waits, so the CPU seconds are the command's
        wall, cpu, proc = clock(subprocess.run, cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT)
    after = busy_cpu_s()
    other = None if busy is None or after is None else round(max(0.0, after - busy - cpu), 1)
    return dict(rc=proc.returncode, wall_s=round(wall, 2), cpu_s=round(cpu, 1), other_cpu_s=other)
