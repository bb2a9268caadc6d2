"""The benchmark runner and table filler (``benchmarks/``), without any training.

Stand-in commands, records and a stand-in peer script replace train.py and chemprop; the
matrix's overrides are composed against ``conf/`` so that a renamed config key fails here.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmarks import _uncertainty, run, tables

REPO = Path(__file__).resolve().parent.parent
MATRIX = yaml.safe_load((REPO / "benchmarks" / "matrix.yaml").read_text())
ECHO = [sys.executable, "-c", "import sys; print(sys.argv[1:])"]


def test_expand_narrows_by_lists_and_by_each_setups_only():
    matrix = {
        "datasets": {"a": {}, "b": {}},
        "splits": ["s1", "s2"],
        "seeds": [0, 1],
        "setups": {"x": {}, "y": {"only": {"datasets": ["b"], "splits": ["s1"], "seeds": [1]}}},
    }
    cells = run.expand(matrix)
    assert len(cells) == 2 * 2 * 2 + 1 and ("b", "s1", "y", 1) in cells
    assert run.expand(matrix, datasets=["a"], seeds=[1]) == [
        ("a", "s1", "x", 1),
        ("a", "s2", "x", 1),
    ]
    with pytest.raises(SystemExit, match=r"--setups: \['nope'\] not in"):
        run.main(["--setups", "k1", "nope", "--dry-run"])


def test_every_record_is_a_cell_of_the_matrix_and_one_cell_has_one_record():
    records = tables.load().records
    keys = [tuple(r[k] for k in run.KEY) for r in records]
    assert len(keys) == len(set(keys)), "two records for one cell"
    assert set(keys) <= set(run.expand(MATRIX)), "a record of a cell the matrix no longer has"


def test_matrix_overrides_compose_with_the_apps_config(tmp_path):
    from hydra import compose, initialize_config_dir

    seen = set()  # each training setup once, and each dataset once
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        for ds, split, setup, seed in run.expand(MATRIX, seeds=[0]):
            name = MATRIX["setups"][setup].get("train_as", setup)
            if "peer" in MATRIX["setups"][setup] or {ds, name} <= seen:
                continue
            seen |= {ds, name}
            overrides = run.train_overrides(MATRIX, (ds, split, setup, seed), tmp_path, tmp_path)
            cfg = compose("train", [o for o in overrides if not o.startswith("hydra.")])
            # the setup's name says K and M: k<K>, optionally ens<M>
            assert cfg.bagging.num_conformers == int(re.search(r"k(\d+)", name)[1])
            ens = re.search(r"_ens(\d+)", name)
            assert cfg.ensemble.size == (int(ens[1]) if ens else 1)
            assert cfg.data.split_key == split and cfg.data.name == ds
            assert (cfg.conformers.max_attempts == 0) == (ds in ("bbbp", "lipo"))
    trained = [s for s in MATRIX["setups"].values() if not {"peer", "train_as"} & set(s)]
    assert len(seen) == len(MATRIX["datasets"]) + len(trained)


def test_interrupted_training_continues_from_the_latest_member_checkpoint(tmp_path):
    rd = tmp_path / "runs" / "cell"
    for m in range(2):
        (rd / "checkpoints" / f"member_{m}").mkdir(parents=True)
        ckpt = rd / "checkpoints" / f"member_{m}" / "last.ckpt"
        ckpt.write_text("x")
        os.utime(ckpt, (time.time() - 40, time.time() - 40))
    (rd / "bench_segments.json").write_text(json.dumps([{"start": time.time() - 100}]))
    rec = run.train(ECHO, rd)
    assert rec["rc"] == 0 and rec["train_segments"] == 2 and rec["train_cpu_s"] is None
    segments = json.loads((rd / "bench_segments.json").read_text())
    assert segments[0]["wall_s"] == pytest.approx(60, abs=3)
    assert segments[1]["command"].endswith(f"ckpt_path={rd}/checkpoints/member_1/last.ckpt")
    assert "member_1/last.ckpt" in (tmp_path / "runs" / "cell.train.log").read_text()


def test_fresh_training_starts_clean_and_a_finished_one_is_not_repeated(tmp_path):
    rd = tmp_path / "cell"
    (rd / "stale").mkdir(parents=True)
    rec = run.train(ECHO, rd)
    assert rec["train_segments"] == 1 and rec["train_cpu_s"] is not None
    assert not (rd / "stale").exists()
    (rd / "model").mkdir()
    (rd / "model" / "model.json").write_text("{}")
    again = run.train([sys.executable, "-c", "raise SystemExit(3)"], rd)
    assert again == rec


def test_score_uses_the_apps_metrics_on_predicted_rows():
    truth = pd.DataFrame({"smiles": list("ABCD"), "y": [1.0, 2.0, 3.0, 4.0]})
    preds = pd.DataFrame({"y": [1.5, 2.0, None, 5.0], "y_conformer_std": [0.5, 0.1, None, 0.9]})
    out = run.score(preds, truth, "y", "regression")
    assert out["test_rmse"] == pytest.approx(((0.25 + 0 + 1) / 3) ** 0.5, abs=1e-4)
    assert out["n_unpredicted"] == 1 and out["predict_spearman_conformer"] == pytest.approx(1.0)
    labels = pd.DataFrame({"smiles": list("ABCD"), "p": [0, 1, 0, 1]})
    probs = pd.DataFrame({"p": [0.2, 0.7, 0.8, 0.9]})
    assert run.score(probs, labels, "p", "classification")["test_roc_auc"] == 0.75
    # errors 0.2, 0.3, 0.8, 0.1: the conformer spread ranks them weakly, the total exactly
    spread = probs.assign(p_conformer_std=[0.4, 0.3, 0.2, 0.1], p_ensemble_std=[0, 0.5, 0.9, 0])
    out = run.score(spread, labels, "p", "classification")
    assert out["predict_spearman_conformer"] == pytest.approx(0.2)
    assert out["predict_spearman_total"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="3 prediction rows for 4"):
        run.score(probs.head(3), labels, "p", "classification")


PEER = """
import json, sys
from pathlib import Path
keep = Path(sys.argv[sys.argv.index("--keep") + 1])
keep.mkdir(parents=True)
(keep / "preds.csv").write_text("smiles,y\\nA,1.0\\nB,3.0\\n")
print("chemprop log line")
print(json.dumps({"task": "regression", "test_rmse": 0.7071, "train_wall_s": 1.5}))
"""


def test_peer_cell_is_scored_from_its_kept_predictions(tmp_path, monkeypatch):
    (tmp_path / "splits").mkdir()
    (tmp_path / "d.csv").write_text("smiles,y\nZ,0.0\nA,1.0\nB,2.0\n")
    (tmp_path / "splits" / "d.json").write_text(json.dumps({"s": {"test": [1, 2]}}))
    (tmp_path / "peer.py").write_text(PEER)
    monkeypatch.setitem(run.PEERS, "fake", tmp_path / "peer.py")
    matrix = {"datasets": {"d": {"target": "y"}}, "setups": {"p": {"peer": "fake"}}}
    args = argparse.Namespace(work=tmp_path / "w", data_dir=tmp_path, chemprop=Path("cp"))
    rec = run.run_peer(matrix, ("d", "s", "p", 0), args)
    assert rec["test_rmse"] == pytest.approx(0.7071, abs=1e-4) and rec["train_wall_s"] == 1.5
    assert rec["peer_reported"]["test_rmse"] == 0.7071 and "--pytorch-seed 0" in rec["commands"][0]


def _records() -> tables.Records:
    recs = [
        {"dataset": "r", "split": "s", "setup": "a", "seed": 0, "test_rmse": 1.0, "x": 5},
        {"dataset": "r", "split": "s", "setup": "a", "seed": 1, "test_rmse": 2.0, "x": 7},
        {"dataset": "r", "split": "s", "setup": "b", "seed": 0, "test_rmse": 0.5},
        {"dataset": "r", "split": "s", "setup": "b_old", "seed": 1, "test_rmse": 0.9},
        {"dataset": "r", "split": "s", "setup": "b", "seed": 1, "test_rmse": 0.7},
        {"dataset": "c", "split": "s", "setup": "a", "seed": 0, "test_roc_auc": 0.8},
        {"dataset": "c", "split": "s", "setup": "b", "seed": 0, "test_roc_auc": 0.6},
    ]
    return tables.Records(recs, {"r": "regression", "c": "classification"})


def test_records_tables_give_mean_and_std_and_leave_empty_rows_out():
    by_ds = {"split": "s", "rows": "datasets", "columns": [{"label": "A", "setup": "a"}]}
    by_ds["columns"].append({"label": "n", "setup": "a", "stat": "count"})
    lines = tables.records_table(_records(), by_ds)
    assert lines[2:] == ["| r | 1.500 ± 0.707 (n=2) | 2 |", "| c | 0.800 (n=1) | 1 |"]
    paired = {"split": "s", "paired": True, "rows": {"b": "B"}, "datasets": ["r"]}
    paired["columns"] = [{"label": "old", "setup": "{setup}_old"}, {"label": "now"}]
    assert tables.records_table(_records(), paired)[2:] == ["| r | B | 0.900 (n=1) | 0.700 (n=1) |"]
    empty = {"split": "s", "rows": {"zzz": "Z"}, "columns": [{"label": "v", "field": "x"}]}
    assert tables.records_table(_records(), empty)[2:] == []


def test_goal_table_picks_the_best_setup_in_the_metrics_direction():
    spec = {"split": "s", "peer": "b", "setups": ["a"]}
    lines = tables.goal_table(_records(), spec)
    assert lines[2] == "| r | 0.600 | a | 1.500 | b by 0.900 |"
    assert lines[3] == "| c | 0.600 | a | 0.800 | molprop by 0.200 |"


def test_fill_replaces_only_marked_tables_and_rejects_unknown_names(tmp_path):
    (tmp_path / "j.json").write_text(json.dumps({"runs": {"p_1": {"t": 1.23456}}}))
    specs = {"t": {"kind": "json", "file": "j.json", "key": "runs", "names": {"p_1": "peer"}}}
    specs["t"]["columns"] = ["name", "t", "missing"]
    text = "Prose 1.\n<!-- table:t -->\nold\n<!-- /table -->\nProse 2.\n"
    out = tables.fill(text, specs, _records(), tmp_path)
    assert out.startswith("Prose 1.\n<!-- table:t -->\n| name | t | missing |")
    assert "| peer | 1.235 | – |\n<!-- /table -->\nProse 2.\n" in out and "old" not in out
    with pytest.raises(SystemExit, match="no such table"):
        tables.fill(text.replace(":t ", ":nope "), specs, _records(), tmp_path)


def test_benchmarks_md_tables_match_the_records():
    assert tables.main(["--check"]) == 0


def _unc_record(rng, n=60, noise=0.5, width=0.8):
    y = rng.normal(size=n)
    mean = y + noise * rng.normal(size=n)
    std = np.full(n, noise)
    lower, upper = mean - width, mean + width
    return {"unc_arrays": {"y": y, "mean": mean, "std": std, "lower": lower, "upper": upper}}


def test_seed_mean_ci_is_the_mean_over_seeds_and_pairs_the_peer():
    rng = np.random.default_rng(0)
    recs = [_unc_record(rng) for _ in range(3)]
    value, lower, upper = tables.seed_mean_ci(recs, "coverage")
    each = [np.mean(np.abs(r["unc_arrays"]["y"] - r["unc_arrays"]["mean"]) <= 0.8) for r in recs]
    assert value == pytest.approx(np.mean(each)) and lower < value < upper
    assert tables.seed_mean_ci(recs, "nll", recs) == (0.0, 0.0, 0.0)  # paired: no spread
    wide = [_unc_record(np.random.default_rng(0), width=1.6) for _ in range(3)]
    diff = tables.seed_mean_ci(wide[:1], "mean_width", recs[:1])
    assert diff[0] == pytest.approx(1.6) and diff[1] == pytest.approx(1.6)


def test_uncertainty_fields_score_by_name_and_variants_come_from_the_runs_metrics(tmp_path):
    from molprop.uncertainty import VarianceParts
    from molprop.uncertainty.parts import part_calibrations, parts_report
    from molprop.uncertainty.report import REGRESSION_SCORES

    rng = np.random.default_rng(1)
    y = rng.normal(size=(40, 1))
    mean = y + 0.3 * rng.normal(size=(40, 1))
    parts = VarianceParts(mean, ensemble=rng.random((40, 1)), conformer=rng.random((40, 1)))
    reports = parts_report(part_calibrations(mean, y, parts, ["t"]), mean, y, parts)
    (tmp_path / "metrics.json").write_text(json.dumps({"uncertainty": {"parts": reports}}))
    variants = _uncertainty.unc_variants(tmp_path)
    assert list(variants) == ["conformer", "ensemble", "conformer+ensemble"]
    # the fields tables.yaml reads, and nothing but scalar scores
    assert {"nll", "miscalibration_area", "spearman", "coverage", "mean_width"} < set(
        variants["ensemble"]
    )
    assert variants["ensemble"] == {k: reports["ensemble"][k] for k in REGRESSION_SCORES}
    (tmp_path / "metrics.json").write_text(json.dumps({"uncertainty": {}}))  # an older run
    assert _uncertainty.unc_variants(tmp_path) == {}
    y, mean = pd.Series(y[:, 0]), pd.Series(mean[:, 0])
    out = _uncertainty.unc_fields(y, mean, np.full(40, 0.3), mean - 0.5, mean + 0.5)
    inside = np.mean(np.abs(y - mean) <= 0.5)
    assert out["unc"]["coverage"] == pytest.approx(inside) and set(out["unc"]) == set(
        REGRESSION_SCORES
    )
    assert out["unc_arrays"]["upper"] == pytest.approx(mean + 0.5, abs=1e-5)


def test_probability_fields_score_calibrated_and_raw_and_refuse_missing_rows():
    y, prob, raw = np.array([1, 0, 1, 0]), np.array([0.8, 0.3, 0.6, 0.1]), np.array([1, 0, 0, 0.0])
    out = _uncertainty.prob_fields(y, prob, raw)
    assert out["unc"]["brier"] == pytest.approx((0.04 + 0.09 + 0.16 + 0.01) / 4)
    assert out["unc_raw"]["brier"] == pytest.approx(0.25) and out["unc_arrays"]["raw"][2] == 0
    assert set(out["unc"]) == {"brier", "ece"}
    recs = [dict(out, seed=s) for s in range(2)]
    assert tables.seed_mean_ci(recs, "brier")[0] == pytest.approx(out["unc"]["brier"])
    with pytest.raises(ValueError, match="1 missing probabilities among 4"):
        _uncertainty.prob_fields(y, np.array([0.8, np.nan, 0.6, 0.1]), raw)
    preds = pd.DataFrame({"p": raw, "p_calibrated": prob})
    assert _uncertainty.molprop_unc(preds, pd.Series(y), "p")["unc"] == out["unc"]


FAKE_CHEMPROP = """#!{python}
import sys
import pandas as pd
arg = lambda name: sys.argv[sys.argv.index(name) + 1]
frame = pd.read_csv(arg("--test-path"))
# an overconfident classifier, written over the input's target column like chemprop predict
frame["p"] = [0.95 if s.startswith("P") else 0.05 for s in frame["smiles"]]
frame.to_csv(arg("--preds-path"), index=False)
"""


def _labelled(n: int, rng) -> pd.DataFrame:
    """Molecules named P.../N... (the fake's call) with labels that agree 70% of the time."""
    call = rng.random(n) < 0.5
    label = np.where(rng.random(n) < 0.7, call, ~call).astype(int)
    return pd.DataFrame(
        {"smiles": [("P" if c else "N") + str(i) for i, c in enumerate(call)], "p": label}
    )


def test_peer_probabilities_are_calibrated_on_its_validation_labels(tmp_path):
    rng = np.random.default_rng(0)
    keep = tmp_path / "keep"
    (keep / "model" / "model_0").mkdir(parents=True)
    (keep / "model" / "model_0" / "best.pt").write_bytes(b"")
    _labelled(400, rng).to_csv(keep / "val.csv", index=False)
    test = _labelled(300, rng)
    test.assign(p=[0.95 if s[0] == "P" else 0.05 for s in test["smiles"]]).to_csv(
        keep / "preds.csv", index=False
    )
    fake = tmp_path / "chemprop"
    fake.write_text(FAKE_CHEMPROP.format(python=sys.executable))
    fake.chmod(0o755)
    fields, cmds = _uncertainty.peer_unc(keep, test["p"], "p", "classification", fake)
    assert fields is not None and str(keep / "val.csv") in cmds[0]
    # Platt on the validation labels (not on the predictions written over them) shrinks the
    # overconfident 0.95/0.05 towards the 70% agreement, so the test Brier score drops
    assert fields["unc_calibration"]["method"] == "platt"
    assert fields["unc"]["brier"] < fields["unc_raw"]["brier"] - 0.03
    assert 0.6 < max(fields["unc_arrays"]["prob"]) < 0.8
    fake.write_text("#!/bin/sh\nexit 3\n")
    assert _uncertainty.peer_unc(keep, test["p"], "p", "classification", fake)[0] is None


def test_matmul_floor_records_every_product_and_replays_it():
    import torch

    from benchmarks import matmul_floor

    a, b = torch.randn(6, 4, requires_grad=True), torch.randn(4, 3, requires_grad=True)
    x = torch.randn(2, 5, 4)
    with matmul_floor.MatmulRecorder() as rec:
        out = (a @ b).sum() + torch.addmm(torch.zeros(3), a, b).sum()
        out = out + torch.bmm(x, b.expand(2, 4, 3)).sum()
        out.backward()
    ops = [func.overloadpacket for func, _, _ in rec.calls]
    assert ops[:2] == [torch.ops.aten.mm, torch.ops.aten.addmm] and len(ops) >= 5  # + backward
    assert matmul_floor.gemm_flops(*rec.calls[0][:2]) == 2 * 6 * 4 * 3
    assert matmul_floor.gemm_flops(*rec.calls[1][:2]) == 2 * 6 * 4 * 3
    bmm = [c for c in rec.calls if c[0].overloadpacket is torch.ops.aten.bmm]
    assert bmm and matmul_floor.gemm_flops(*bmm[0][:2]) == 2 * 2 * 5 * 4 * 3
    matmul_floor.replay(rec.calls)()  # same layouts, no autograd: runs as recorded
