"""Where each dataset's input file comes from.

- ``data.builtin: chembl_freewilson``: built at run time from the CHEMBL2321810 files that
  ship inside the installed rdkit package (``RDConfig.RDContribDir/FreeWilson/data``):
  ``CHEMBL2321810.smi`` (SMILES, id) joined by id to ``CHEMBL2321810_act.csv`` (Name, Act),
  written to ``<data_dir>/built/chembl_freewilson.csv`` with columns ``id, smiles,
  activity`` (about 1000 compounds, pIC50 activity).
- Any other dataset (esol, freesolv, lipo, bbbp, tox21, your own): the local file
  ``data.path``. When it is missing and ``data.url`` is set, it is downloaded once into
  ``<data_dir>/downloads/`` and checked against ``data.sha256`` when given.
"""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.request
from pathlib import Path

import pandas as pd

from molprop.data.config import BUILTINS, DataConfig
from molprop.exceptions import InputError

log = logging.getLogger(__name__)


def freewilson_dir() -> Path:
    """Folder of the FreeWilson example data inside the installed rdkit."""
    from rdkit import RDConfig

    return Path(RDConfig.RDContribDir) / "FreeWilson" / "data"


def build_chembl_freewilson(out_dir: str | Path) -> Path:
    """Build ``chembl_freewilson.csv`` (id, smiles, activity) into ``out_dir``; returns it.

    The file is rebuilt only when missing; it is written atomically.
    """
    out = Path(out_dir) / "chembl_freewilson.csv"
    if out.is_file() and out.stat().st_size > 0:
        return out
    src = freewilson_dir()
    smi_path, act_path = src / "CHEMBL2321810.smi", src / "CHEMBL2321810_act.csv"
    for path in (smi_path, act_path):
        if not path.is_file():
            raise InputError(
                f"Builtin dataset chembl_freewilson: '{path}' not found; expected the rdkit "
                "package to ship Contrib/FreeWilson/data (RDConfig.RDContribDir)"
            )
    smi = pd.read_csv(smi_path, sep=r"\s+", header=None, names=["smiles", "id"], dtype=str)
    act = pd.read_csv(act_path, dtype=str).rename(columns={"Name": "id", "Act": "activity"})
    table = smi.merge(act[["id", "activity"]], on="id", how="inner", validate="one_to_one")
    table = table[["id", "smiles", "activity"]]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    table.to_csv(tmp, index=False)
    os.replace(tmp, out)
    log.info("Built %s (%d compounds) from %s", out, len(table), src)
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: Path, sha256: str | None = None) -> Path:
    """Download ``url`` to ``dest`` atomically, checking its SHA-256 when given."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    log.info("Downloading %s to %s", url, dest)
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as handle:
            for block in iter(lambda: response.read(1 << 20), b""):
                handle.write(block)
        got = _sha256(tmp)
        if sha256 and got.lower() != str(sha256).lower():
            raise InputError(
                f"Download of '{url}' has SHA-256 {got}; expected {sha256} (data.sha256)"
            )
        os.replace(tmp, dest)
    except OSError as exc:
        raise InputError(f"Could not download '{url}' to '{dest}' ({exc})") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest


def resolve_data_path(data: DataConfig, data_dir: str | Path = "data") -> Path:
    """Return the local input file for a ``data`` config, building or downloading it if needed.

    Args:
        data: ``data`` settings; reads ``builtin``, ``path``, ``url``, ``sha256``, ``name``.
        data_dir: Folder for built files (``built/``) and downloads (``downloads/``).

    Raises:
        InputError: Naming every place the file was looked for.
    """
    data_dir = Path(data_dir)
    builtin, path, url = data.builtin, data.path, data.url
    if builtin:
        if builtin not in BUILTINS:
            raise InputError(f"data.builtin: received '{builtin}'; expected one of {BUILTINS}")
        return build_chembl_freewilson(data_dir / "built")
    looked = []
    if path:
        candidate = Path(os.path.expanduser(str(path)))
        looked.append(candidate.resolve())
        if candidate.is_file():
            return candidate
        if not candidate.is_absolute():
            in_data_dir = data_dir / candidate
            looked.append(in_data_dir.resolve())
            if in_data_dir.is_file():
                return in_data_dir
    if url:
        name = Path(str(path)).name if path else Path(url.split("?")[0]).name
        target = data_dir / "downloads" / name
        if target.is_file():
            return target
        return download(str(url), target, data.sha256)
    dataset = data.name or "dataset"
    where = ", ".join(f"'{p}'" for p in looked) if looked else "nowhere (data.path is not set)"
    raise InputError(
        f"Input file for {dataset} not found; looked in {where}; expected data.path to name an "
        "existing CSV or SDF file (or data.url to download it)"
    )
