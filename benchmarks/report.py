"""Write BENCHMARKS.md (and benchmarks/plots/*.png) from benchmarks/results/.

Reads ``chemprop.jsonl`` and ``molprop.jsonl`` (one JSON line per run), plus any other
``*.json`` / ``*.jsonl`` in ``benchmarks/results/`` (backbone, conformer and predict speed
benchmarks written by their own scripts), which are rendered as generic tables. Every number in
BENCHMARKS.md comes from those files; cells without a run say "not run". The marked result
blocks of README.md are rewritten from the same records.

Usage (from the repo root)::

    python benchmarks/report.py [--out BENCHMARKS.md] [--readme README.md | --no-readme]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
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
from _report_accuracy import accuracy_table, goal_line, per_seed_table, timing_table  # noqa: E402,E501
from _report_gpu import gpu_section  # noqa: E402
from _report_sections import METHOD_NOTES, other_results_section  # noqa: E402
from _report_stats import (  # noqa: E402,E501
    dedupe,
    machines_line,
    md_head,
    md_row,
    mean_std,
    metric_key,
    metric_label,
    select,
    setup_cells,
    values,
)

ABLATION_KS = (1, 3, 10, 20)


def ablation_tables(mp: list[dict], split: str) -> list[str]:
    """Metric against K, and spread/error Spearman correlations."""
    head = ["dataset", "metric"] + [f"K={k}" for k in ABLATION_KS]
    lines = md_head(head)
    for ds in DATASETS:
        cells = setup_cells(mp, ds, split, (f"k{k}" for k in ABLATION_KS))
        lines.append(md_row([ds, metric_label(ds), *cells]))
    lines += [
        "",
        "Spearman ρ between spread and absolute test error (per molecule), mean ± std over seeds:",
        "",
    ]
    head = ["dataset", "setup", "conformer spread ρ", "ensemble spread ρ"]
    lines += md_head(head)
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
    lines = md_head(head)
    for ds in DATASETS:
        for setup in ("k1", "k3", "k10", "k20", "k10_ens3"):
            rs = select(mp, dataset=ds, split=split, setup=setup)
            if not rs:
                continue
            lines.append(
                md_row(
                    [
                        ds,
                        setup,
                        mean_std(values(rs, "metrics_json_test_single_conformer")),
                        mean_std(values(rs, "metrics_json_test_bagged_member0")),
                        mean_std(values(rs, "metrics_json_test")),
                    ]
                )
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
    lines = md_head(head)
    for ds in DATASETS:
        if not any(select(mp, dataset=ds, split=split, setup=s) for s, _ in SIZE_SETUPS[::2]):
            continue
        for setup, lab in SIZE_SETUPS:
            rs = select(mp, dataset=ds, split=split, setup=setup)
            params = sorted({r["trainable_params"] for r in rs if r.get("trainable_params")})
            lines.append(
                md_row(
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
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Render BENCHMARKS.md."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    ap.add_argument(
        "--readme",
        type=Path,
        default=REPO / "README.md",
        help="README whose marked result blocks to rewrite (default README.md)",
    )
    ap.add_argument("--no-readme", dest="readme", action="store_const", const=None)
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
    k_tables = ablation_tables(mp, "scaffold")
    missing = any("not run" in ln for ln in k_tables)
    out += [
        "### Models trained and predicted with K conformers",
        "",
        "`OMP_NUM_THREADS=1 nice -n 19 python benchmarks/bagging_ablation.py --split scaffold` "
        "(K=1 and K=10 are the accuracy runs above; each run uses the lowest-energy K of "
        "max(K, 10) generated conformers)."
        + (" Training at K=3 and K=20 was not run where the cells say so." if missing else ""),
        "",
        machines_line(select(mp, split="scaffold")),
        "",
    ]
    out += k_tables + [""]
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
    out += ["With the current experiment configs (sum pooling):", ""]
    out += [ln for ln in size_table(mp, "scaffold") if "not run" not in ln]
    mean_pool = dedupe(
        read_jsonl(RESULTS / "molprop_pool_mean.jsonl"), ("dataset", "split", "setup", "seed")
    )
    out += [
        "",
        "Earlier runs with mean pooling (the experiment configs before the switch to sum "
        "pooling, `molprop_pool_mean.jsonl`; `model=tiny` was not run with mean pooling):",
        "",
    ]
    out += [ln for ln in size_table(mean_pool, "scaffold") if "not run" not in ln]
    out += [""]
    out += pooling_section(RESULTS, mp, "scaffold")
    out += other_results_section(RESULTS, PLOTS, REPO)
    out += gpu_section(RESULTS)
    out += METHOD_NOTES
    args.out.write_text("\n".join(out) + "\n")
    print(f"wrote {args.out}")
    if args.readme is not None:
        sync_readme(args.readme, chem, mp)
    return 0


def sync_readme(path: Path, chem: list[dict], mp: list[dict]) -> None:
    """Rewrite the README's generated result blocks (see ``_report_readme.py``)."""
    from _report_readme import (
        accuracy_block,
        ensemble_block,
        inference_k_block,
        training_k_block,
        update_readme,
    )

    blocks = {f"accuracy-{s}": accuracy_block(chem, mp, s) for s in SPLITS}
    blocks["inference-k"] = inference_k_block(inference_k_records(RESULTS, "scaffold"), ABLATION_KS)
    blocks["training-k"] = training_k_block(mp, "scaffold", ABLATION_KS)
    blocks["ensemble"] = ensemble_block(mp, "scaffold")
    missing = update_readme(path, blocks)
    print(f"updated {path}" + (f"; no markers for {', '.join(missing)}" if missing else ""))


if __name__ == "__main__":
    raise SystemExit(main())
