"""Keep the numbers in the README's results section in step with BENCHMARKS.md.

The README marks each generated block with ``<!-- benchmarks:NAME -->`` and
``<!-- /benchmarks:NAME -->``. ``report.py`` rewrites what lies between the two from the same
records it renders BENCHMARKS.md from; the prose around the blocks is written by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

from _common import DATASETS
from _report_accuracy import ACC_SETUPS, goal_check, goal_note
from _report_stats import md_head, md_row, mean_std, metric_key, select, setup_cells, values

NAMES = {
    "esol": "ESOL (RMSE ↓)",
    "freesolv": "FreeSolv (RMSE ↓)",
    "bbbp": "BBBP (ROC-AUC ↑)",
    "lipo": "Lipophilicity (RMSE ↓)",
}


def accuracy_block(chem: list[dict], mp: list[dict], split: str) -> list[str]:
    """Test metric per dataset and tool (mean ± std over seeds) and the goal check."""
    head = ["dataset", "chemprop 2.3.1 (50 epochs)"] + [lab for _, lab in ACC_SETUPS]
    lines = md_head(head)
    for ds in DATASETS:
        key = metric_key(ds)
        cells = [NAMES[ds], mean_std(values(select(chem, dataset=ds, split=split), key))]
        cells += setup_cells(mp, ds, split, (s for s, _ in ACC_SETUPS))
        lines.append(md_row(cells))
    wins, compared, gaps = goal_check(chem, mp, split)
    lines += [
        "",
        f"The best molprop setup matches or beats chemprop's mean on {wins} of {compared} "
        f"datasets ({goal_note(split)}):",
    ]
    return lines + [f"- {g}" for g in gaps]


def inference_k_block(recs: list[dict], ks: tuple[int, ...]) -> list[str]:
    """Metric against inference-time K per dataset (mean ± std over seeds), and how well the
    conformer spread at the largest K ranks the absolute error."""
    head = ["dataset", *(f"K={k}" for k in ks), f"ρ(conformer spread, abs. error) K={ks[-1]}"]
    lines = md_head([*head, "seeds"])
    for ds in DATASETS:
        seeds = sorted({r["seed"] for r in select(recs, dataset=ds)})
        if not seeds:
            continue
        cells = [NAMES[ds]]
        cells += [mean_std(values(select(recs, dataset=ds, K=k), metric_key(ds))) for k in ks]
        rho = values(select(recs, dataset=ds, K=ks[-1]), "spearman_conformer_std_abs_error")
        cells += [mean_std(rho, 2) if rho else "–", ", ".join(map(str, seeds))]
        lines.append(md_row(cells))
    return lines if len(lines) > 2 else ["Not run."]


def training_k_block(mp: list[dict], split: str, ks: tuple[int, ...]) -> list[str]:
    """Metric against K for models trained and predicted with K conformers (mean ± std)."""
    lines = md_head(["dataset", *(f"K={k}" for k in ks)])
    for ds in DATASETS:
        lines.append(md_row([NAMES[ds], *setup_cells(mp, ds, split, (f"k{k}" for k in ks))]))
    return lines


def ensemble_block(mp: list[dict], split: str) -> list[str]:
    """One K=10 model against K=10 × 3 models, and how well each spread ranks the error."""
    head = [
        "dataset",
        "one K=10 model",
        "K=10 × 3 models",
        "ρ(ensemble spread, abs. error)",
        "ρ(conformer spread, abs. error)",
    ]
    lines = md_head(head)
    for ds in DATASETS:
        one = select(mp, dataset=ds, split=split, setup="k10")
        ens = select(mp, dataset=ds, split=split, setup="k10_ens3")
        cells = [
            NAMES[ds],
            mean_std(values(one, metric_key(ds))),
            mean_std(values(ens, metric_key(ds))),
        ]
        cells += [mean_std(values(ens, k), 2) for k in ("spearman_ensemble", "spearman_conformer")]
        lines.append(md_row(cells).replace("-0.00", "0.00"))
    return lines


def update_readme(path: Path, blocks: dict[str, list[str]]) -> list[str]:
    """Replace each marked block of ``path``; returns the names with no markers there."""
    text = path.read_text()
    missing = []
    for name, lines in blocks.items():
        tag = re.escape(name)
        pattern = re.compile(rf"(<!-- benchmarks:{tag} -->\n).*?(<!-- /benchmarks:{tag} -->)", re.S)
        if not pattern.search(text):
            missing.append(name)
            continue
        body = "\n".join(lines) + "\n"
        text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(2), text, count=1)
    path.write_text(text)
    return missing
