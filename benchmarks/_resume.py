"""Continue an interrupted benchmark training run instead of starting it again.

A run killed part-way (its lane was stopped, the machine went away) leaves
``work/runs/<name>/`` holding Lightning's ``last.ckpt`` of the member it was training and
``bench_segments.json``: the code digest, and the start time and (once finished) the timings of
every training segment. The next attempt with the same code continues from that checkpoint with
``train.py ... ckpt_path=<checkpoint>`` (molprop's own resume; earlier ensemble members reload
their best checkpoints). A run whose training finished but whose prediction did not is not
trained again.

Timings of a continued run: train wall seconds are summed over segments, a killed segment
counted up to its newest checkpoint (the work after it was lost and redone). Its CPU seconds are
unknown, so the record's ``train_cpu_s`` and ``train_other_cpu_s`` are None, and
``train_segments`` lists every segment.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from _common import log, timed

SEGMENTS = "bench_segments.json"


def resume_checkpoint(run_dir: Path) -> Path | None:
    """``last.ckpt`` of the latest ensemble member that saved one, else None."""
    ckpts = run_dir / "checkpoints"
    members = sorted(ckpts.glob("member_*/last.ckpt"), key=lambda p: int(p.parent.name[7:]))
    found = [p for p in (ckpts / "last.ckpt", *members) if p.is_file()]
    return found[-1] if found else None


def _newest_checkpoint_time(run_dir: Path) -> float | None:
    times = [p.stat().st_mtime for p in (run_dir / "checkpoints").rglob("*.ckpt")]
    return max(times) if times else None


def _load_state(run_dir: Path, code: str) -> dict | None:
    """The segments file of an earlier attempt with the same code, else None."""
    path = run_dir / SEGMENTS
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state if state.get("code") == code and state.get("segments") else None


def _close_killed(state: dict, run_dir: Path) -> None:
    """Give a segment that never finished the wall time up to its newest checkpoint."""
    last = state["segments"][-1]
    if "wall_s" not in last:
        newest = _newest_checkpoint_time(run_dir)
        last["wall_s"] = round(max(0.0, (newest or last["start"]) - last["start"]), 2)
        last["killed"] = True


def _totals(segments: list[dict]) -> dict:
    whole = len(segments) == 1 and not segments[0].get("killed")
    cpu = segments[0].get("cpu_s") if whole else None
    other = segments[0].get("other_cpu_s") if whole else None
    wall = round(sum(s["wall_s"] for s in segments), 2)
    return {"wall_s": wall, "cpu_s": cpu, "other_cpu_s": other, "segments": segments}


def train_segment(cmd: list[str], run_dir: Path, code: str, log_path: Path) -> dict:
    """Train (or continue training) one run; returns rc, summed timings and the segments.

    Args:
        cmd: The ``train.py`` command of a fresh run (``ckpt_path`` is appended to continue).
        run_dir: The run directory the command writes.
        code: Digest of the code being run; an earlier attempt with other code is discarded.
        log_path: Training log; a continued segment appends to it.
    """
    state = _load_state(run_dir, code)
    ckpt = resume_checkpoint(run_dir) if state else None
    if state and state["segments"][-1].get("rc") == 0 and (run_dir / "model").is_dir():
        log(f"training of {run_dir.name} finished earlier; not trained again")
        return {"rc": 0, **_totals(state["segments"])}
    if state is None or ckpt is None:
        shutil.rmtree(run_dir, ignore_errors=True)
        state = {"code": code, "segments": []}
    else:
        _close_killed(state, run_dir)
        cmd = [*cmd, f"ckpt_path={ckpt}"]
    run_dir.mkdir(parents=True, exist_ok=True)
    state["segments"].append({"start": time.time(), "command": " ".join(cmd)})
    (run_dir / SEGMENTS).write_text(json.dumps(state, indent=1))
    log(f"train {run_dir.name} (code {code}): {' '.join(cmd)}")
    res = timed(cmd, log_path, append=len(state["segments"]) > 1)
    state["segments"][-1].update(res)
    (run_dir / SEGMENTS).write_text(json.dumps(state, indent=1))
    return {"rc": res["rc"], **_totals(state["segments"])}
