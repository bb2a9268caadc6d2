"""BENCHMARKS.md sections for the backbone-size and ensemble-size ablations."""

from __future__ import annotations

from pathlib import Path

from _common import DATASETS, read_jsonl
from _report_stats import dedupe, md_head, md_row, mean_std, metric_key, select, values

SIZE_SETUPS = (
    ("k10_mtiny", "model=tiny"),
    ("k10", "model=small (experiment default)"),
    ("k10_mdefault", "model=default"),
)
ENSEMBLE_SETUPS = (
    ("k10", "1 model"),
    ("k10_ens3", "3 models"),
    ("k10_ens5", "5 models"),
    ("k20", "1 model, K=20"),
    ("k20_ens3", "3 models, K=20"),
)


def val_metric(record: dict) -> float | None:
    """The run's monitored validation metric at its best epoch, from its metrics.json."""
    value = (record.get("metrics_json") or {}).get("optimized_metric", {}).get("value")
    return None if value is None else float(value)


def size_table(
    mp: list[dict],
    split: str,
    setups=SIZE_SETUPS,
    label: str = "model",
    needs: tuple[str, ...] = ("k10_mtiny", "k10_mdefault"),
) -> list[str]:
    """Backbone-size (``SIZE_SETUPS``) or ensemble-size (``ENSEMBLE_SETUPS``) ablation: test
    metric, parameters and train time, for the datasets with a run of one of ``needs``.
    """
    head = [
        "dataset",
        label,
        "trainable params (one model)",
        "val metric (best epoch)",
        "test metric",
        "train wall s",
        "runs",
    ]
    lines = md_head(head)
    for ds in DATASETS:
        if not any(select(mp, dataset=ds, split=split, setup=s) for s in needs):
            continue
        for setup, lab in setups:
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


def size_sections(results: Path, mp: list[dict], split: str) -> list[str]:
    """The model-size tables (sum pooling now, mean pooling before) and the ensemble-size table."""
    out = [
        f"### Model size (K=10, one model, {split})",
        "",
        "`OMP_NUM_THREADS=1 nice -n 19 python benchmarks/accuracy.py --datasets esol "
        f"--splits {split} --setups k10_mtiny k10_mdefault` (adds `model=tiny` / "
        "`model=default` to the K=10 command).",
        "",
    ]
    out += ["With the current experiment configs (sum pooling):", ""]
    out += [ln for ln in size_table(mp, split) if "not run" not in ln]
    mean_pool = dedupe(
        read_jsonl(results / "molprop_pool_mean.jsonl"), ("dataset", "split", "setup", "seed")
    )
    out += [
        "",
        "Earlier runs with mean pooling (the experiment configs before the switch to sum "
        "pooling, `molprop_pool_mean.jsonl`; `model=tiny` was not run with mean pooling):",
        "",
    ]
    out += [ln for ln in size_table(mean_pool, split) if "not run" not in ln]
    out += [""]
    out += [
        f"### Ensemble size ({split})",
        "",
        "`OMP_NUM_THREADS=1 nice -n 19 python benchmarks/accuracy.py --datasets esol "
        f"--splits {split} --setups k10_ens5 k20_ens3` (`ensemble.size=5` at K=10, "
        "`ensemble.size=3` at K=20; the other rows are the accuracy and training-K runs above). "
        "K=10 unless the row says K=20:",
        "",
    ]
    ens = size_table(mp, split, ENSEMBLE_SETUPS, "ensemble", ("k10_ens5", "k20_ens3"))
    out += (ens if len(ens) > 2 else ["No runs yet (not run)."]) + [""]
    return out
