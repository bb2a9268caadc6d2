"""Dataset sources: the builtin ChEMBL set from rdkit Contrib, local paths, downloads."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from molprop.data import sources
from molprop.data.config import DataConfig
from molprop.data.sources import resolve_data_path as _resolve
from molprop.exceptions import InputError


def resolve_data_path(data: dict, data_dir):
    """The source of a ``data`` dict, through the typed config the datamodule passes."""
    return _resolve(DataConfig.from_dict(data), data_dir)


def test_builtin_chembl_freewilson(tmp_path):
    path = resolve_data_path({"builtin": "chembl_freewilson"}, tmp_path)
    assert path == tmp_path / "built" / "chembl_freewilson.csv"
    table = pd.read_csv(path)
    assert list(table.columns) == ["id", "smiles", "activity"]
    assert 950 <= len(table) <= 1100 and table["activity"].notna().all()


def test_local_path_and_missing_file_message(tmp_path):
    local = tmp_path / "esol.csv"
    local.write_text("smiles,y\nCCO,1\n")
    assert resolve_data_path({"path": str(local)}, tmp_path) == local
    with pytest.raises(InputError) as info:
        resolve_data_path({"name": "esol", "path": str(tmp_path / "nope.csv")}, tmp_path)
    assert str(info.value) == (
        f"Input file for esol not found; looked in '{tmp_path / 'nope.csv'}'; expected "
        "data.path to name an existing CSV or SDF file (or data.url to download it)"
    )


def test_download_is_checked_without_network(tmp_path, monkeypatch):
    payload = b"smiles,y\nCCO,1\n"

    class Response:
        def __init__(self):
            self.chunks = [payload, b""]

        def read(self, n):
            return self.chunks.pop(0)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(sources.urllib.request, "urlopen", lambda url, timeout: Response())
    good = hashlib.sha256(payload).hexdigest()
    data = {"path": str(tmp_path / "x.csv"), "url": "https://example.org/x.csv", "sha256": good}
    path = resolve_data_path(data, tmp_path)
    assert path == tmp_path / "downloads" / "x.csv" and path.read_bytes() == payload
    with pytest.raises(InputError) as info:
        resolve_data_path(dict(data, path="y.csv", sha256="0" * 64), tmp_path)
    assert str(info.value) == (
        f"Download of 'https://example.org/x.csv' has SHA-256 {good}; expected {'0' * 64} "
        "(data.sha256)"
    )
    assert not (tmp_path / "downloads" / "y.csv").exists()
