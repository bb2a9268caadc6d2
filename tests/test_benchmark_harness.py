"""The benchmark harness's own logic: resuming runs, the README sync, spread scoring.

The benchmarks themselves are not part of the test suite; these checks use stand-in commands
and records, so they need neither the shared datasets nor a training run.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
_resume = pytest.importorskip("_resume")
_report_readme = pytest.importorskip("_report_readme")
bagging_inference = pytest.importorskip("bagging_inference")

ECHO = [sys.executable, "-c", "import sys; print(sys.argv[1:])"]


def _fake_checkpoints(run_dir: Path, members: int, age_s: float) -> None:
    for m in range(members):
        d = run_dir / "checkpoints" / f"member_{m}"
        d.mkdir(parents=True, exist_ok=True)
        for name in ("best.ckpt", "last.ckpt"):
            (d / name).write_text("x")
            stamp = time.time() - age_s
            os.utime(d / name, (stamp, stamp))


def test_fresh_run_records_one_segment(tmp_path):
    run = tmp_path / "run"
    res = _resume.train_segment([*ECHO, "a"], run, "code1", tmp_path / "train.log")
    assert res["rc"] == 0 and len(res["segments"]) == 1
    assert res["cpu_s"] is not None
    assert "['a']" in (tmp_path / "train.log").read_text()


def test_killed_run_continues_from_latest_member_checkpoint(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    start = time.time() - 100
    state = {"code": "code1", "segments": [{"start": start, "command": "train"}]}
    (run / _resume.SEGMENTS).write_text(json.dumps(state))
    _fake_checkpoints(run, members=2, age_s=40)
    res = _resume.train_segment(ECHO, run, "code1", tmp_path / "train.log")
    assert res["rc"] == 0
    assert res["segments"][0]["killed"] is True
    assert res["segments"][0]["wall_s"] == pytest.approx(60, abs=2)
    assert res["cpu_s"] is None and res["wall_s"] >= res["segments"][0]["wall_s"]
    assert res["segments"][1]["command"].endswith("member_1/last.ckpt")


def test_finished_training_is_not_repeated_and_other_code_starts_afresh(tmp_path):
    run = tmp_path / "run"
    _resume.train_segment(ECHO, run, "code1", tmp_path / "train.log")
    (run / "model").mkdir()
    again = _resume.train_segment([*ECHO, "never"], run, "code1", tmp_path / "train.log")
    assert len(again["segments"]) == 1
    assert "never" not in (tmp_path / "train.log").read_text()
    _fake_checkpoints(run, members=1, age_s=5)
    fresh = _resume.train_segment(ECHO, run, "code2", tmp_path / "train.log")
    assert len(fresh["segments"]) == 1 and not (run / "checkpoints").exists()


def _record(ds, setup, seed, value, **extra):
    key = "test_roc_auc" if ds == "bbbp" else "test_rmse"
    return {"dataset": ds, "split": "scaffold", "setup": setup, "seed": seed, key: value, **extra}


def test_readme_blocks_are_rewritten_between_markers_only(tmp_path):
    chem = [{**_record("esol", None, None, v), "pytorch_seed": s} for s, v in enumerate((1.0, 0.8))]
    mp = [_record("esol", "k10_ens3", s, v) for s, v in enumerate((0.7, 0.9))]
    readme = tmp_path / "README.md"
    readme.write_text(
        "intro\n<!-- benchmarks:accuracy-scaffold -->\nstale\n"
        "<!-- /benchmarks:accuracy-scaffold -->\noutro\n"
    )
    blocks = {
        "accuracy-scaffold": _report_readme.accuracy_block(chem, mp, "scaffold"),
        "ensemble": ["x"],
    }
    missing = _report_readme.update_readme(readme, blocks)
    text = readme.read_text()
    assert missing == ["ensemble"]
    assert text.startswith("intro\n") and text.endswith("outro\n") and "stale" not in text
    assert (
        "| ESOL (RMSE ↓) | 0.900 ± 0.141 (n=2) | not run | not run | 0.800 ± 0.141 (n=2) |" in text
    )
    assert "on 1 of 1 datasets" in text and "molprop ahead by 0.100" in text


def test_spread_error_ranks_probability_error_for_classification(tmp_path):
    # The wider the conformer spread, the further the probability from the 0/1 label.
    preds = tmp_path / "preds.csv"
    rows = [
        ("C", 0.9, 0.01),
        ("CC", 0.3, 0.10),
        ("CCC", 0.6, 0.05),
        ("CCCC", 0.1, 0.20),
        ("O", "", ""),
    ]
    lines = ["smiles,p_np,p_np_conformer_std,num_conformers,error"]
    lines += [f"{smi},{p},{s},3," for smi, p, s in rows]
    preds.write_text("\n".join(lines) + "\n")
    labels = [1.0, 1.0, 1.0, 1.0, 0.0]  # |p - y| = 0.1, 0.7, 0.4, 0.9; the last row unpredicted
    assert bagging_inference.spread_error("bbbp", preds, labels) == pytest.approx(1.0)
    labels[3] = 0.0  # |p - y| of the widest spread drops to 0.1: no longer a perfect ranking
    assert bagging_inference.spread_error("bbbp", preds, labels) < 1.0
