"""BENCHMARKS.md accuracy section: chemprop against molprop setups, per split."""

from __future__ import annotations

import statistics

from _common import CLASSIFICATION, DATASETS
from _report_stats import (
    md_head,
    md_row,
    mean_std,
    metric_key,
    metric_label,
    select,
    setup_cells,
    values,
)

ACC_SETUPS = (
    ("k1", "molprop K=1"),
    ("k10", "molprop K=10 bagged"),
    ("k10_ens3", "molprop K=10 × 3 models"),
)


def accuracy_table(chem: list[dict], mp: list[dict], split: str) -> list[str]:
    """Dataset × tool table of the test metric, mean ± std over seeds."""
    head = ["dataset", "metric", "chemprop 2.3.1 (50 ep)"] + [lab for _, lab in ACC_SETUPS]
    lines = md_head(head)
    for ds in DATASETS:
        key = metric_key(ds)
        cells = [ds, metric_label(ds), mean_std(values(select(chem, dataset=ds, split=split), key))]
        cells += setup_cells(mp, ds, split, (s for s, _ in ACC_SETUPS))
        lines.append(md_row(cells))
    return lines


def goal_check(chem: list[dict], mp: list[dict], split: str) -> tuple[int, int, list[str]]:
    """Datasets where the best molprop setup matches or beats chemprop (means): wins, datasets
    with both results, and one "best molprop vs chemprop" phrase per dataset."""
    wins, compared, gaps = 0, 0, []
    for ds in DATASETS:
        key = metric_key(ds)
        c = values(select(chem, dataset=ds, split=split), key)
        best = None
        for setup, _ in ACC_SETUPS:
            v = values(select(mp, dataset=ds, split=split, setup=setup), key)
            if v:
                m = statistics.fmean(v)
                better = best is None or (m > best if ds in CLASSIFICATION else m < best)
                best = m if better else best
        if not c or best is None:
            continue
        compared += 1
        cm = statistics.fmean(c)
        ok = best >= cm if ds in CLASSIFICATION else best <= cm
        wins += ok
        gaps.append(
            f"{ds}: best molprop {best:.3f} vs chemprop {cm:.3f} "
            f"({'molprop ahead' if ok else 'chemprop ahead'} by {abs(best - cm):.3f})"
        )
    return wins, compared, gaps


def goal_note(split: str) -> str:
    """The goal, which is set on the scaffold split only."""
    return "goal: 3 of 4" if split == "scaffold" else "the goal is set on the scaffold split"


def goal_line(chem: list[dict], mp: list[dict], split: str) -> str:
    """One sentence: the goal check of :func:`goal_check`."""
    wins, compared, gaps = goal_check(chem, mp, split)
    if not compared:
        return "Goal check: no dataset has both chemprop and molprop results yet."
    return (
        f"Goal check ({split}): the best molprop setup matches or beats chemprop's mean on "
        f"{wins} of {compared} datasets with both results ({goal_note(split)}). "
        + "; ".join(gaps)
        + "."
    )


def timing_table(chem: list[dict], mp: list[dict], split: str) -> list[str]:
    """Wall/CPU time per run, mean ± std; others' CPU shows contention from other processes."""
    head = [
        "dataset",
        "tool / setup",
        "train wall s",
        "of which conformer stage s",
        "train CPU s",
        "others' CPU s during train",
        "predict wall s (test set, incl. startup)",
        "runs",
    ]
    lines = md_head(head)
    for ds in DATASETS:
        groups = [("chemprop", select(chem, dataset=ds, split=split))]
        groups += [(lab, select(mp, dataset=ds, split=split, setup=s)) for s, lab in ACC_SETUPS]
        for lab, rs in groups:
            if not rs:
                continue
            lines.append(
                md_row(
                    [
                        ds,
                        lab,
                        mean_std(values(rs, "train_wall_s"), 0),
                        mean_std(values(rs, "conformer_stage_s"), 0) if lab != "chemprop" else "–",
                        mean_std(values(rs, "train_cpu_s"), 0),
                        mean_std(values(rs, "train_other_cpu_s"), 0),
                        mean_std(values(rs, "predict_wall_s"), 1),
                        str(len(rs)),
                    ]
                )
            )
    return lines if len(lines) > 2 else ["No runs yet (not run)."]


def per_seed_table(chem: list[dict], mp: list[dict]) -> list[str]:
    """Every single run, so nothing is hidden behind a mean."""
    head = [
        "dataset",
        "split",
        "tool / setup",
        "seed",
        "test metric",
        "test MAE",
        "train wall s",
        "predict wall s",
        "code",
    ]
    lines = md_head(head)
    rows = [(r["dataset"], r["split"], "chemprop", r.get("pytorch_seed"), r) for r in chem]
    rows += [(r["dataset"], r["split"], f"molprop {r['setup']}", r["seed"], r) for r in mp]
    order = {d: i for i, d in enumerate(DATASETS)}
    rows.sort(key=lambda t: (t[1] != "scaffold", order.get(t[0], 9), t[2], t[3]))
    for ds, split, tool, seed, r in rows:
        met = r.get(metric_key(ds))
        lines.append(
            md_row(
                [
                    ds,
                    split,
                    tool,
                    seed,
                    "n/a" if met is None else met,
                    r.get("test_mae", "–"),
                    wall_cell(r),
                    r.get("predict_wall_s"),
                    r.get("code_sha", "chemprop 2.3.1" if tool == "chemprop" else "–"),
                ]
            )
        )
    return lines


def wall_cell(r: dict) -> str:
    """Train wall seconds of one run, with its segment count when it was continued."""
    seg = r.get("train_segments")
    return f"{r.get('train_wall_s')} ({len(seg)} segments)" if seg else str(r.get("train_wall_s"))
