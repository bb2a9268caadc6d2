"""Generic rendering of the other benchmark outputs (speed, conformers, predict, scale).

Those scripts own their JSON layouts, which are not fixed here, so each
``benchmarks/results/*.json[l]`` other than chemprop/molprop is rendered as it is: a list of
flat dicts becomes a table, a dict's scalar fields become a key/value list, and a nested list of
dicts under any key becomes a table too. PNGs in benchmarks/plots/ not made by report.py are
embedded.
"""

from __future__ import annotations

import json
from pathlib import Path

from _report_stats import md_head, md_row

OWN = {
    "chemprop.jsonl",
    "molprop.jsonl",
    "molprop_pool_mean.jsonl",
    "bagging_inference.jsonl",
    "gpu_check.json",
}
OWN_PLOTS = ("accuracy_", "bagging_k_", "bagging_inference_k_", "scale_atoms")


def _load(path: Path):
    text = path.read_text()
    if path.suffix == ".jsonl":
        return [json.loads(ln) for ln in text.splitlines() if ln.strip()]
    return json.loads(text)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        return "`" + json.dumps(v)[:80] + "`"
    return str(v).replace("|", "\\|")


def _table(rows: list[dict]) -> list[str]:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys and not isinstance(r[k], (dict, list))]
    lines = md_head(keys)
    lines += [md_row(_fmt(r.get(k, "")) for k in keys) for r in rows]
    return lines


def _render(obj) -> list[str]:
    if isinstance(obj, list) and obj and all(isinstance(r, dict) for r in obj):
        return _table(obj)
    if isinstance(obj, dict):
        out = [f"- {k}: {_fmt(v)}" for k, v in obj.items() if not isinstance(v, (dict, list))]
        for k, v in obj.items():
            if isinstance(v, list) and v and all(isinstance(r, dict) for r in v):
                out += ["", f"`{k}`:", ""] + _table(v)
            elif isinstance(v, dict) and v and all(isinstance(r, dict) for r in v.values()):
                out += ["", f"`{k}`:", ""] + _table([{"name": n, **r} for n, r in v.items()])
            elif isinstance(v, dict):
                out += [f"- {k}: {_fmt(v)}"]
        return out
    return [f"`{_fmt(obj)}`"]


SPEED_SCRIPTS = ("backbone_speed", "conformer_speed", "predict_throughput")


def scale_plot(obj, plots: Path) -> Path | None:
    """Time and peak memory against atom count from backbone_speed's ``scaling`` points."""
    pts = (
        [
            p
            for p in (obj.get("scaling") or [])
            if isinstance(obj, dict) and p.get("status") == "ok" and "train_s" in p
        ]
        if isinstance(obj, dict)
        else []
    )
    if not pts:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8, 3.2))
    atoms = [p["atoms"] for p in pts]
    ax.plot(atoms, [p["train_s"] for p in pts], "o-", color="C0")
    ax.set_xlabel("atoms (one graph)")
    ax.set_ylabel("s per fwd+bwd step", color="C0")
    ax2 = ax.twinx()
    ax2.plot(atoms, [p["peak_mib"] for p in pts], "s--", color="C1")
    ax2.set_ylabel("peak RSS MiB", color="C1")
    ax.set_title("SE3Transformer degrees 0-2: time and memory vs size", fontsize=9)
    fig.tight_layout()
    path = plots / "scale_atoms.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def other_results_section(results: Path, plots: Path, repo: Path) -> list[str]:
    """Section 3+: every other result file and plot, or a note that none exist yet."""
    out = [
        "## 3. Speed and scale",
        "",
        "Each of these scripts prints a JSON summary as its last line; save it as "
        "`benchmarks/results/<script>.json` to have it rendered here, e.g. "
        "`OMP_NUM_THREADS=1 nice -n 19 python benchmarks/backbone_speed.py "
        "| tee benchmarks/work/backbone_speed.log && tail -n 1 benchmarks/work/"
        "backbone_speed.log > benchmarks/results/backbone_speed.json`.",
        "",
    ]
    files = sorted(p for p in results.glob("*.json*") if p.name not in OWN)
    have = {p.stem for p in files}
    for name in SPEED_SCRIPTS:
        if name not in have:
            out += [f"- `benchmarks/{name}.py`: not run (no `benchmarks/results/{name}.json`)."]
    out += [""]
    for p in files:
        out += [f"### `{p.relative_to(repo)}`", ""]
        try:
            obj = _load(p)
            out += _render(obj)
            png = scale_plot(obj, plots)
            if png is not None:
                out += ["", f"![time and memory vs atoms]({png.relative_to(repo)})"]
        except (OSError, ValueError) as exc:
            out += [f"could not read: {exc}"]
        out += [""]
    for png in sorted(plots.glob("*.png")):
        if not png.name.startswith(OWN_PLOTS):
            out += [f"![{png.stem}]({png.relative_to(repo)})", ""]
    return out


METHOD_NOTES = [
    "## Method notes",
    "",
    "- Same rows: both tools train on the `train` rows, select on `val` and are scored on "
    "`test` of `../shared/data/splits/DATASET.json`; both test metrics are computed by the same "
    "plain-Python RMSE / ROC-AUC code from each tool's prediction CLI output.",
    "- molprop K=1 uses the lowest-energy conformer of the 10 generated per molecule "
    "(`conformers.pool_size=10 bagging.num_conformers=1`), so K=1, 3 and 10 share one "
    "conformer cache; K=20 generates 20. Ensembles are 3 models with seeds S, S+1, S+2, without "
    "bootstrap (`ensemble.size=3 ensemble.bootstrap=false`). All other hyperparameters are the "
    "experiment config's (`conf/experiment/DATASET.yaml`).",
    "- BBBP and Lipo molprop runs add `conformers.max_attempts=0` (RDKit's own embedding "
    "limit): their conformer cache was filled by `python -m molprop.cli.conformers` while that "
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
