"""Shared statistics and selection helpers of the BENCHMARKS.md renderers."""

from __future__ import annotations

import statistics

from _common import CLASSIFICATION

NOT_RUN = "not run"


def metric_key(ds: str) -> str:
    return "test_roc_auc" if ds in CLASSIFICATION else "test_rmse"


def metric_label(ds: str) -> str:
    return "ROC-AUC ↑" if ds in CLASSIFICATION else "RMSE ↓"


def md_row(cells) -> str:
    """One Markdown table row."""
    return "| " + " | ".join(str(c) for c in cells) + " |"


def md_head(head: list[str]) -> list[str]:
    """A Markdown table's header row and separator."""
    return [md_row(head), "|" + "---|" * len(head)]


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


def setup_cells(records: list[dict], ds: str, split: str, setups) -> list[str]:
    """``mean ± std`` of the dataset's test metric over seeds, one cell per molprop setup."""
    key = metric_key(ds)
    rows = (select(records, dataset=ds, split=split, setup=s) for s in setups)
    return [mean_std(values(rs, key)) for rs in rows]


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
