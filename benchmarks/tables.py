"""Fill the marked tables of BENCHMARKS.md from the benchmark records.

Every ``<!-- table:NAME -->`` … ``<!-- /table -->`` block becomes the table ``NAME`` of
``benchmarks/tables.yaml``, computed from the files of ``benchmarks/results/``; text outside
the markers is kept. ``python -m benchmarks.tables --check`` only says whether it is current.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

import numpy as np
import yaml

from benchmarks._common import REPO, RESULTS, read_jsonl
from molprop.metrics import MONITOR, task_metric
from molprop.uncertainty.evaluation import bootstrap_ci
from molprop.uncertainty.report import CLASSIFICATION_SCORES, REGRESSION_SCORES
from molprop.uncertainty.resampled import ROWS

DOC, SPECS = REPO / "BENCHMARKS.md", REPO / "benchmarks" / "tables.yaml"
MATRIX = REPO / "benchmarks" / "matrix.yaml"
BLOCK = re.compile(r"(<!-- table:([\w-]+) -->\n)(.*?)(<!-- /table -->)", re.S)
NONE = "–"
N_BOOT = 1000  # bootstrap replicates of the `stat: ci` intervals


def _test_metric(name: str):
    """``fn(y, pred)`` of the app's test metric ``name`` (molprop.metrics) on numpy arrays."""

    def fn(y: np.ndarray, pred: np.ndarray) -> float:
        return task_metric(name, pred, y)

    return fn


#: Accuracy scores of `stat: ci` over the records' per_molecule targets and predictions.
ACCURACY_SCORES = {name: (_test_metric(name), ("y", "pred")) for name in ("rmse", "roc_auc")}


def mean_std(vals: list[float], digits: int = 3) -> str:
    """``mean ± sample std (n=N)``; ``mean (n=1)`` for one value; a dash for none."""
    if not vals:
        return NONE
    m = f"{statistics.fmean(vals):.{digits}f}"
    m = m.lstrip("-") if float(m) == 0 else m  # no "-0.00"
    if len(vals) == 1:
        return f"{m} (n=1)"
    return f"{m} ± {statistics.stdev(vals):.{digits}f} (n={len(vals)})"


def md_table(head: list[str], rows: list[list]) -> list[str]:
    """A Markdown table: header, separator and one line per row."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


class Records:
    """The records of the benchmark cells, selectable by dataset, split, setup and seed."""

    def __init__(self, records: list[dict], tasks: dict[str, str]):
        self.records, self.tasks = records, tasks

    def select(self, seeds=None, **key) -> list[dict]:
        """Records matching ``key`` (and, when given, one of ``seeds``)."""
        found = [r for r in self.records if all(r.get(k) == v for k, v in key.items())]
        return [r for r in found if seeds is None or r["seed"] in seeds]

    def values(self, rs: list[dict], field: str) -> list[float]:
        """``field`` of each record that has it; ``a.b`` reads ``record["a"]["b"]``."""
        out = []
        for r in rs:
            for part in field.split("."):
                r = r.get(part) if isinstance(r, dict) else None
            out += [] if r is None else [float(r)]
        return out

    def metrics(self, ds: str, split: str, setup: str) -> list[float]:
        """Test metric of every record of one cell."""
        return self.values(self.select(dataset=ds, split=split, setup=setup), self.metric(ds))

    def metric(self, ds: str) -> str:
        """Record field of the headline test metric of ``ds`` (the one training monitors)."""
        return "test_" + MONITOR[self.tasks[ds]][0]


def seed_mean_ci(records: list[dict], score: str, peer: list[dict] | None = None) -> tuple:
    """``(value, lower, upper)``: mean of ``score`` over seeds, bootstrap 95% interval.

    A replicate draws one set of test molecules for every seed's ``unc_arrays`` (same rows in
    split order; ``per_molecule`` for :data:`ACCURACY_SCORES`), so the interval is that of the
    seed mean; with ``peer`` records (same
    seeds) the statistic is the paired difference ``mean(records) - mean(peer)``.
    """
    fn, cols = {**REGRESSION_SCORES, **CLASSIFICATION_SCORES, **ACCURACY_SCORES}[score]
    field = _arrays_field(score)
    # one [n, seeds] array per column: a replicate resamples the rows of all of them at once
    mine = [np.stack([r[field][c] for r in records], 1) for c in cols]
    other = [np.stack([r[field][c] for r in peer], 1) for c in cols] if peer else []

    def paired(score_fn):
        # x[..., s]: seed s of [n, seeds] (all molecules) or [B, n, seeds] (replicates)
        def mean(a):
            return np.mean([score_fn(*(x[..., s] for x in a)) for s in range(a[0].shape[-1])], 0)

        def stat(*arrays):
            return mean(arrays[: len(cols)]) - (mean(arrays[len(cols) :]) if peer else 0.0)

        return stat

    finite = all(np.isfinite(a).all() for a in mine + other)  # ROWS take no NaN
    rows = paired(ROWS[score]) if finite else None
    return bootstrap_ci(paired(fn), *mine, *other, n_boot=N_BOOT, rows_statistic=rows)


def cell(recs: Records, col: dict, ds: str, split: str, setup: str, seeds) -> str | None:
    """One table cell (None when it has no value, so that an empty row can be left out)."""
    stat = col.get("stat", "mean")
    if stat == "metric":
        return "ROC-AUC ↑" if recs.tasks[ds] == "classification" else "RMSE ↓"
    row, setup = setup, col.get("setup", setup).format(setup=setup)
    rs = recs.select(seeds, dataset=ds, split=split, setup=setup)
    if stat == "ci":  # seed mean, bootstrap interval over molecules; minus the peer's if named
        score = MONITOR[recs.tasks[ds]][0] if col["score"] == "metric" else col["score"]
        field = _arrays_field(score)  # records without their arrays cannot be resampled
        peer = {
            r["seed"]: r
            for r in recs.select(dataset=ds, split=split, setup=col.get("peer"))
            if field in r
        }
        rs = [r for r in rs if field in r and ("peer" not in col or r["seed"] in peer)]
        other = [peer[r["seed"]] for r in rs] if "peer" in col else None
        if not rs:
            return None
        (value, lo, hi), d = seed_mean_ci(rs, score, other), col.get("digits", 3)
        return f"{value:.{d}f} [{lo:.{d}f}, {hi:.{d}f}]"
    vals = recs.values(rs, (col.get("field") or recs.metric(ds)).format(setup=row))
    if stat == "count":
        return str(len(rs)) if rs else None
    if stat == "seeds":
        return ", ".join(str(r["seed"]) for r in sorted(rs, key=lambda r: r["seed"])) or None
    if stat == "distinct":
        return ", ".join(f"{v:g}" for v in sorted(set(vals))) or None
    return mean_std(vals, col.get("digits", 3)) if vals else None


def paired_seeds(recs: Records, spec: dict, ds: str, setup: str) -> set[int] | None:
    """Seeds with a record in every cell of the row (and its peers), when ``paired``."""
    if not spec.get("paired"):
        return None
    sets = [
        {
            r["seed"]
            for r in recs.select(dataset=ds, split=spec["split"], setup=s)
            if col.get("stat") != "ci" or _arrays_field(col["score"]) in r
        }
        for col in spec["columns"]
        for s in {col.get("setup", setup).format(setup=setup), col.get("peer", setup)}
    ]
    return set.intersection(*sets)


def _arrays_field(score: str) -> str:
    """Record field a `stat: ci` cell of ``score`` resamples (only newer records keep it)."""
    return "per_molecule" if score == "metric" or score in ACCURACY_SCORES else "unc_arrays"


def records_table(recs: Records, spec: dict) -> list[str]:
    """A table of means over seeds: one row per dataset, or per dataset and setup."""
    by_setup = spec["rows"] != "datasets"
    rows_head = [spec.get("rows_label", "setup")] if by_setup else []
    head = ["dataset", *rows_head, *(c["label"] for c in spec["columns"])]
    rows = []
    for ds in spec.get("datasets", recs.tasks):
        for setup, label in spec["rows"].items() if by_setup else [("", None)]:
            if ds not in spec.get("row_datasets", {}).get(setup, [ds]):
                continue
            seeds = paired_seeds(recs, spec, ds, setup)
            cols = spec["columns"]
            cells = [cell(recs, c, ds, spec["split"], setup, seeds) for c in cols]
            values = [
                v
                for c, v in zip(cols, cells, strict=True)
                if c.get("stat") not in ("metric", "seeds")
            ]
            if any(v is not None for v in values):
                rows.append([ds, *([label] if by_setup else []), *(v or NONE for v in cells)])
    return md_table(head, rows)


def goal_table(recs: Records, spec: dict) -> list[str]:
    """Per dataset: the peer's mean, molprop's best setup mean and who is ahead by how much."""
    rows, split = [], spec["split"]
    for ds, task in recs.tasks.items():
        sign = 1 if MONITOR[task][1] == "max" else -1  # larger is better after the sign
        peer = recs.metrics(ds, split, spec["peer"])
        ours = {s: statistics.fmean(v) for s in spec["setups"] if (v := recs.metrics(ds, split, s))}
        if not peer or not ours:
            continue
        best = max(ours, key=lambda s: sign * ours[s])
        gap = sign * (ours[best] - statistics.fmean(peer))
        ahead = f"molprop by {gap:.3f}" if gap >= 0 else f"{spec['peer']} by {-gap:.3f}"
        rows.append([ds, f"{statistics.fmean(peer):.3f}", best, f"{ours[best]:.3f}", ahead])
    return md_table(["dataset", spec["peer"], "best molprop setup", "its mean", "ahead"], rows)


def runs_table(recs: Records, spec: dict) -> list[str]:
    """Every record, so that nothing hides behind a mean."""
    order = {ds: i for i, ds in enumerate(recs.tasks)}
    rows = []
    for r in sorted(
        recs.records,
        key=lambda r: (r["split"] != "scaffold", order[r["dataset"]], r["setup"], r["seed"]),
    ):
        segs = r.get("train_segments") or 1
        wall = r.get("train_wall_s")
        wall = NONE if wall is None else f"{wall}" + (f" ({segs} segments)" if segs > 1 else "")
        metric = r.get(recs.metric(r["dataset"]))
        metric = NONE if metric is None else metric
        cells = [r["dataset"], r["split"], r["setup"], r["seed"], metric, r.get("test_mae", NONE)]
        rows.append([*cells, wall, r.get("predict_wall_s", NONE), r.get("code") or NONE])
    head = ["dataset", "split", "setup", "seed", "test metric", "test MAE", "train wall s"]
    return md_table([*head, "predict wall s", "code"], rows)


BUILDERS = {"records": records_table, "goal": goal_table, "runs": runs_table}  # kind: json apart


def fmt(value) -> str:
    """A JSON value in a table cell (floats to 4 significant digits)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return NONE if value is None else str(value).replace("|", "\\|")


def json_table(results: Path, spec: dict) -> list[str]:
    """Rows of ``spec["key"]`` of a results JSON file (a list, a dict of named rows or one row)."""
    obj = json.loads((results / spec["file"]).read_text())
    for part in spec.get("key", "").split(".") if spec.get("key") else []:
        obj = obj[part]
    if isinstance(obj, dict) and all(isinstance(v, dict) for v in obj.values()):
        obj = [{"name": spec.get("names", {}).get(k, k), **v} for k, v in obj.items()]
    rows = obj if isinstance(obj, list) else [obj]
    return md_table(spec["columns"], [[fmt(r.get(c)) for c in spec["columns"]] for r in rows])


def fill(text: str, specs: dict, recs: Records, results: Path) -> str:
    """``text`` with every marked table recomputed.

    Raises:
        SystemExit: When a marker names a table that ``tables.yaml`` does not define.
    """

    def one(m: re.Match) -> str:
        if m.group(2) not in specs:
            sys.exit(f"<!-- table:{m.group(2)} -->: no such table in {SPECS}; have {sorted(specs)}")
        spec = specs[m.group(2)]
        kind = spec.get("kind", "records")
        lines = json_table(results, spec) if kind == "json" else BUILDERS[kind](recs, spec)
        return m.group(1) + "\n".join(lines) + "\n" + m.group(4)

    return BLOCK.sub(one, text)


def load(results: Path = RESULTS, matrix: Path = MATRIX) -> Records:
    """The records, with each dataset's task type taken from its records."""
    records = read_jsonl(results / "records.jsonl")
    names = yaml.safe_load(matrix.read_text())["datasets"]
    tasks = {
        ds: next((r["task"] for r in records if r["dataset"] == ds and r.get("task")), "regression")
        for ds in names
    }
    return Records(records, tasks)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if a table is out of date")
    ap.add_argument("--doc", type=Path, default=DOC, help="the Markdown file to fill")
    args = ap.parse_args(argv)
    text = args.doc.read_text()
    new = fill(text, yaml.safe_load(SPECS.read_text()), load(RESULTS), RESULTS)
    if args.check:
        print(f"{args.doc}: " + ("up to date" if new == text else "tables out of date"))
        return int(new != text)
    args.doc.write_text(new)
    print(f"filled {len(BLOCK.findall(new))} tables of {args.doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
