"""Write BENCHMARKS.md (and benchmarks/plots/*.png) from benchmarks/results/.

Reads ``chemprop.jsonl`` and ``molprop.jsonl`` (one JSON line per run), plus any other
``*.json`` / ``*.jsonl`` in ``benchmarks/results/`` (backbone, conformer and predict speed
benchmarks written by their own scripts), which are rendered as generic tables. Every number in
BENCHMARKS.md comes from those files; cells without a run say "not run".

Usage (from the repo root)::

    python benchmarks/report.py [--out BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    CLASSIFICATION,
    DATASETS,
    PLOTS,
    REPO,
    RESULTS,
    SPLITS,
    command_line,
    machine,
    read_jsonl,
)
from _report_ablations import inference_k_records, inference_k_section, pooling_section  # noqa: E402,E501
from _report_sections import other_results_section  # noqa: E402

ACC_SETUPS = (
    ("k1", "molprop K=1"),
    ("k10", "molprop K=10 bagged"),
    ("k10_ens3", "molprop K=10 × 3 models"),
)
ABLATION_KS = (1, 3, 10, 20)
NOT_RUN = "not run"


def metric_key(ds: str) -> str:
    return "test_roc_auc" if ds in CLASSIFICATION else "test_rmse"


def metric_label(ds: str) -> str:
    return "ROC-AUC ↑" if ds in CLASSIFICATION else "RMSE ↓"


def values(records: list[dict], key: str) -> list[float]:
    return [float(r[key]) for r in records if r.get(key) is not None]


def mean_std(vals: list[float], digits: int = 3) -> str:
    """``mean ± std (n=..)`` over seeds; sample std; "not run" when empty."""
    if not vals:
        return NOT_RUN
    m = statistics.fmean(vals)
    if len(vals) == 1:
        return f"{m:.{digits}f} (n=1)"
    s = statistics.stdev(vals)
    return f"{m:.{digits}f} ± {s:.{digits}f} (n={len(vals)})"


def select(records: list[dict], **kw) -> list[dict]:
    return [r for r in records if all(r.get(k) == v for k, v in kw.items())]


def dedupe(records: list[dict], keys: tuple[str, ...]) -> list[dict]:
    """Keep the last record per key tuple (a re-run replaces an earlier one)."""
    out: dict = {}
    for r in records:
        out[tuple(r.get(k) for k in keys)] = r
    return list(out.values())


def machines_line(records: list[dict]) -> str:
    """Distinct machines and the date range of the runs."""
    ms = {
        (m.get("nproc"), m.get("cpu"), m.get("ram_gib")) for r in records if (m := r.get("machine"))
    }
    dates = sorted(r["machine"]["date"] for r in records if r.get("machine", {}).get("date"))
    desc = "; ".join(f"{n} cores ({c}), {ram} GiB RAM" for n, c, ram in sorted(ms, key=str))
    when = f"{dates[0]} – {dates[-1]}" if dates else "n/a"
    return f"Machine: {desc or 'n/a'}. Runs dated {when}."


def accuracy_table(chem: list[dict], mp: list[dict], split: str) -> list[str]:
    """Dataset × tool table of the test metric, mean ± std over seeds."""
    head = ["dataset", "metric", "chemprop 2.3.1 (50 ep)"] + [lab for _, lab in ACC_SETUPS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for ds in DATASETS:
        key = metric_key(ds)
        cells = [ds, metric_label(ds), mean_std(values(select(chem, dataset=ds, split=split), key))]
        for setup, _ in ACC_SETUPS:
            cells.append(mean_std(values(select(mp, dataset=ds, split=split, setup=setup), key)))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def goal_line(chem: list[dict], mp: list[dict], split: str) -> str:
    """How many datasets the best molprop setup matches or beats chemprop on (means)."""
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
    if not compared:
        return "Goal check: no dataset has both chemprop and molprop results yet."
    return (
        f"Goal check ({split}): the best molprop setup matches or beats chemprop's mean on "
        f"{wins} of {compared} datasets with both results (goal: 3 of 4). " + "; ".join(gaps) + "."
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
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for ds in DATASETS:
        groups = [("chemprop", select(chem, dataset=ds, split=split))]
        groups += [(lab, select(mp, dataset=ds, split=split, setup=s)) for s, lab in ACC_SETUPS]
        for lab, rs in groups:
            if not rs:
                continue
            lines.append(
                "| "
                + " | ".join(
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
                + " |"
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
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = [(r["dataset"], r["split"], "chemprop", r.get("pytorch_seed"), r) for r in chem]
    rows += [(r["dataset"], r["split"], f"molprop {r['setup']}", r["seed"], r) for r in mp]
    order = {d: i for i, d in enumerate(DATASETS)}
    rows.sort(key=lambda t: (t[1] != "scaffold", order.get(t[0], 9), t[2], t[3]))
    for ds, split, tool, seed, r in rows:
        met = r.get(metric_key(ds))
        lines.append(
            "| "
            + " | ".join(
                str(x)
                for x in [
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
            + " |"
        )
    return lines


def wall_cell(r: dict) -> str:
    """Train wall seconds of one run, with its segment count when it was continued."""
    seg = r.get("train_segments")
    return f"{r.get('train_wall_s')} ({len(seg)} segments)" if seg else str(r.get("train_wall_s"))


def ablation_tables(mp: list[dict], split: str) -> list[str]:
    """Metric against K, and spread/error Spearman correlations."""
    head = ["dataset", "metric"] + [f"K={k}" for k in ABLATION_KS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for ds in DATASETS:
        cells = [ds, metric_label(ds)]
        for k in ABLATION_KS:
            rs = select(mp, dataset=ds, split=split, setup=f"k{k}")
            cells.append(mean_std(values(rs, metric_key(ds))))
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Spearman ρ between spread and absolute test error (per molecule), mean ± std over seeds:",
        "",
    ]
    head = ["dataset", "setup", "conformer spread ρ", "ensemble spread ρ"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for ds in DATASETS:
        for setup in ("k3", "k10", "k20", "k10_ens3"):
            rs = select(mp, dataset=ds, split=split, setup=setup)
            if not rs:
                continue
            ens = mean_std(values(rs, "spearman_ensemble")) if setup.endswith("ens3") else "–"
            lines.append(
                f"| {ds} | {setup} | {mean_std(values(rs, 'spearman_conformer'))} | {ens} |"
            )
    if lines[-1].startswith("|---"):
        lines[-2:] = ["No spread/error correlations yet (not run)."]
    return lines


def inference_table(mp: list[dict], split: str) -> list[str]:
    """From each run's metrics.json: the same trained model(s) scored on conformer 0 only,
    bagged over K conformers (member 0), and bagged over K conformers and M models."""
    head = [
        "dataset",
        "setup",
        "conformer 0 only",
        "bagged over K (member 0)",
        "bagged over K and M",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for ds in DATASETS:
        for setup in ("k1", "k3", "k10", "k20", "k10_ens3"):
            rs = select(mp, dataset=ds, split=split, setup=setup)
            if not rs:
                continue
            lines.append(
                "| "
                + " | ".join(
                    [
                        ds,
                        setup,
                        mean_std(values(rs, "metrics_json_test_single_conformer")),
                        mean_std(values(rs, "metrics_json_test_bagged_member0")),
                        mean_std(values(rs, "metrics_json_test")),
                    ]
                )
                + " |"
            )
    return lines if len(lines) > 2 else ["No runs yet (not run)."]


SIZE_SETUPS = (
    ("k10_mtiny", "model=tiny"),
    ("k10", "model=small (experiment default)"),
    ("k10_mdefault", "model=default"),
)


def val_metric(record: dict) -> float | None:
    """The run's monitored validation metric at its best epoch, from its metrics.json."""
    value = (record.get("metrics_json") or {}).get("optimized_metric", {}).get("value")
    return None if value is None else float(value)


def size_table(mp: list[dict], split: str) -> list[str]:
    """Model-size ablation at K=10, one model: test metric, parameters and train time."""
    head = [
        "dataset",
        "model",
        "trainable params",
        "val metric (best epoch)",
        "test metric",
        "train wall s",
        "runs",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for ds in DATASETS:
        for setup, lab in SIZE_SETUPS:
            rs = select(mp, dataset=ds, split=split, setup=setup)
            if not rs and setup == "k10":
                continue
            params = sorted({r["trainable_params"] for r in rs if r.get("trainable_params")})
            lines.append(
                "| "
                + " | ".join(
                    [
                        ds,
                        lab,
                        ", ".join(str(p) for p in params) or "–",
                        mean_std([v for r in rs if (v := val_metric(r)) is not None]),
                        mean_std(values(rs, metric_key(ds))),
                        mean_std(values(rs, "train_wall_s"), 0),
                        str(len(rs)),
                    ]
                )
                + " |"
            )
    return lines


METHOD_NOTES = [
    "## Method notes",
    "",
    "- Same rows: both tools train on the `train` rows, select on `val` and are scored on "
    "`test` of `../shared/data/splits/DATASET.json`; both test metrics are computed by the same "
    "plain-Python RMSE / ROC-AUC code from each tool's prediction CLI output.",
    "- molprop K=1 uses the lowest-energy conformer of the 10 generated per molecule "
    "(`conformers.num_conformers=10 bagging.num_conformers=1`), so K=1, 3 and 10 share one "
    "conformer cache; K=20 generates 20. Ensembles are 3 models with seeds S, S+1, S+2, without "
    "bootstrap (`ensemble.size=3 ensemble.bootstrap=false`). All other hyperparameters are the "
    "experiment config's (`conf/experiment/DATASET.yaml`).",
    "- BBBP and Lipo molprop runs add `conformers.max_attempts=0` (RDKit's own embedding "
    "limit): their conformer cache was filled by `python -m molprop.conformers` while that "
    "command still used 0 rather than the config's 5, and the key includes the setting.",
    '- "Best molprop setup" in the goal check is chosen on the test metric, which flatters '
    "molprop; compare one column across datasets for a fixed setup.",
    "- molprop train wall time includes conformer generation only when the conformer cache "
    "(`data/cache/`) was cold (the first run of a dataset); predict wall time always includes "
    "generating the test molecules' conformers (no cache), as a user's first prediction would. "
    "chemprop's times include CLI start-up and featurisation.",
    "- Wall times were measured with other jobs on the same 2 cores; the "
    '"others\' CPU s" column says how much CPU everything else used during each training.',
    "- A molprop training that was interrupted continues from its last checkpoint on the next "
    "attempt (`benchmarks/_resume.py`; molprop's `ckpt_path=` resume). Its train wall time sums "
    'the segments, each up to its newest checkpoint ("N segments" in the table of every run); '
    "its CPU seconds are not known and are left out of the CPU means.",
    "",
]


def main(argv: list[str] | None = None) -> int:
    """Render BENCHMARKS.md."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    args = ap.parse_args(argv)
    chem = dedupe(read_jsonl(RESULTS / "chemprop.jsonl"), ("dataset", "split", "pytorch_seed"))
    mp = dedupe(read_jsonl(RESULTS / "molprop.jsonl"), ("dataset", "split", "setup", "seed"))
    from _report_plots import ablation_plot, accuracy_plot  # matplotlib only when rendering

    PLOTS.mkdir(parents=True, exist_ok=True)
    me = machine()
    out = [
        "# molprop benchmarks",
        "",
        f"Generated by `{command_line()}` on {me['date']} ({me['nproc']} cores, {me['cpu']}, "
        f"{me['ram_gib']} GiB RAM). Every number below is read from `benchmarks/results/*.jsonl`, "
        'written by the scripts named with each table; "not run" marks a cell with no run yet. '
        "The machine's 2 cores often ran two benchmark jobs at once: wall times are noisy, "
        "so CPU seconds and the CPU seconds other processes used meanwhile are recorded too.",
        "",
        "## 1. Accuracy against chemprop (same molecules, same fixed splits)",
        "",
        "- chemprop: `OMP_NUM_THREADS=1 nice -n 19 python benchmarks/chemprop_runs.py` — for each "
        "run it calls `python ../shared/tools/chemprop_baseline.py DATASET SPLIT --epochs 50 "
        "--pytorch-seed S --chemprop benchmarks/.venv-chemprop/bin/chemprop` (chemprop 2.3.1, "
        "default hyperparameters, torch 2.13.0 CPU).",
        "- molprop: `OMP_NUM_THREADS=1 nice -n 19 python benchmarks/accuracy.py --datasets esol "
        "freesolv bbbp lipo --splits scaffold random_seed0` — for each run `python train.py "
        "experiment=DATASET data.split=file data.split_file=../shared/data/splits/DATASET.json "
        "data.split_key=SPLIT seed=S bagging.num_conformers=K ensemble.size=M ...`, then "
        "`python predict.py` on the test SMILES, scored in plain Python with the same RMSE / "
        "ROC-AUC code as the chemprop baseline. Exact per-run commands are in the JSONL files.",
        "- Seeds 0, 1, 2; mean ± sample std over seeds.",
        "",
    ]
    for split in SPLITS:
        chem_s, mp_s = select(chem, split=split), select(mp, split=split)
        out += [f"### Split `{split}`", "", machines_line(chem_s + mp_s), ""]
        out += accuracy_table(chem, mp, split)
        out += ["", goal_line(chem, mp, split), ""]
        png = accuracy_plot(chem, mp, split, PLOTS)
        if png:
            out += [f"![accuracy {split}](benchmarks/plots/{png.name})", ""]
        out += [f"Wall and CPU time per run (`{split}`):", ""]
        out += timing_table(chem, mp, split) + [""]
    out += ["### Every run", ""] + per_seed_table(chem, mp) + [""]
    out += ["## 2. Does bagging help?", ""]
    out += inference_k_section(RESULTS, "scaffold", ABLATION_KS)
    png = ablation_plot(
        inference_k_records(RESULTS, "scaffold"),
        "scaffold",
        ABLATION_KS,
        PLOTS,
        name="bagging_inference_k",
    )
    if png:
        out += [f"![metric vs K at inference](benchmarks/plots/{png.name})", ""]
    out += [
        "### Models trained and predicted with K conformers",
        "",
        "`OMP_NUM_THREADS=1 nice -n 19 python benchmarks/bagging_ablation.py --split scaffold` "
        "(K=1 and K=10 are the accuracy runs above; each run uses the lowest-energy K of "
        "max(K, 10) generated conformers). Training at K=3 and K=20 was not run where the "
        "cells say so.",
        "",
        machines_line(select(mp, split="scaffold")),
        "",
    ]
    out += ablation_tables(mp, "scaffold") + [""]
    png = ablation_plot(mp, "scaffold", ABLATION_KS, PLOTS)
    if png:
        out += [f"![metric vs K](benchmarks/plots/{png.name})", ""]
    out += [
        "Inference-time bagging, from each run's `metrics.json` (the same trained "
        "model(s), scored three ways; the app's own torchmetrics scoring):",
        "",
    ]
    out += inference_table(mp, "scaffold") + [""]
    out += [
        "### Model size (K=10, one model, scaffold)",
        "",
        "`OMP_NUM_THREADS=1 nice -n 19 python benchmarks/accuracy.py --datasets esol "
        "--splits scaffold --setups k10_mtiny k10_mdefault` (adds `model=tiny` / "
        "`model=default` to the K=10 command).",
        "",
    ]
    mean_pool = dedupe(
        read_jsonl(RESULTS / "molprop_pool_mean.jsonl"), ("dataset", "split", "setup", "seed")
    )
    out += [
        "Runs with mean pooling (the experiment configs before the switch to sum pooling, "
        "`molprop_pool_mean.jsonl`); the size ablation was run with mean pooling only:",
        "",
    ]
    out += [
        ln
        for ln in size_table(mean_pool, "scaffold")
        if not ln.startswith(("| freesolv", "| bbbp", "| lipo")) or "not run" not in ln
    ]
    out += [""]
    out += pooling_section(RESULTS, mp, "scaffold")
    out += other_results_section(RESULTS, PLOTS, REPO)
    out += METHOD_NOTES
    args.out.write_text("\n".join(out) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
