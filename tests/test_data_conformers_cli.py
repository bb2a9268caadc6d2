"""The ``python -m molprop.cli.conformers`` command."""

from __future__ import annotations

import json
import subprocess
import sys

from rdkit import Chem

from molprop.cli.conformers import main


def test_command_fills_cache_writes_sdf_and_reports(tmp_path, capsys):
    csv = tmp_path / "in.csv"
    csv.write_text("id,smi\na,CCO\nb,bad(\nc,c1ccccc1O\n")
    out, cache = tmp_path / "out.sdf", tmp_path / "cache"
    args = [
        str(csv),
        "--smiles-column",
        "smi",
        "--num-conformers",
        "2",
        "--optimize",
        "uff",
        "--seed",
        "1",
        "--workers",
        "2",
        "--cache-dir",
        str(cache),
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(lines[-1])
    assert set(summary) == {"molecules", "conformers", "failures", "seconds"}
    assert summary["molecules"] == 3 and summary["failures"] == 1
    assert lines[0] == "skipped row 1 (bad(): invalid SMILES: RDKit could not parse 'bad('"
    records = [m for m in Chem.SDMolSupplier(str(out), removeHs=False)]
    assert len(records) == summary["conformers"] >= 2
    assert {m.GetProp("row") for m in records} == {"0", "2"}
    assert all(float(m.GetProp("energy")) == float(m.GetProp("energy")) for m in records)
    assert (tmp_path / "out.skipped.csv").read_text().splitlines()[0] == "row,smiles,reason"
    assert any(cache.rglob("*.conf"))
    # second run: everything from the cache
    assert main(args[:-1] + ["--quiet"]) == 0
    assert "embedded: 0" in capsys.readouterr().out


def test_command_reports_input_errors(tmp_path):
    missing = tmp_path / "missing.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "molprop.cli.conformers", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert f"error: Input file '{missing}' does not exist" in proc.stderr


def test_command_defaults_match_the_training_config():
    """Same cache key as a default `train.py`: a filled cache saves its conformer stage."""
    from conftest import compose_train
    from omegaconf import OmegaConf

    from molprop.chem.config import ConformerConfig
    from molprop.cli.conformers import build_parser, config_from_args

    default = compose_train([]).conformers
    trained = ConformerConfig.from_dict(OmegaConf.to_container(default, resolve=True))
    cli = config_from_args(build_parser().parse_args(["in.csv"]))
    assert cli == ConformerConfig()
    assert cli.cache_settings() == trained.cache_settings()
    # --pool-size (alias --num-conformers) matches train.py at that K
    cfg = compose_train(["bagging.num_conformers=10"])
    trained = ConformerConfig.from_dict(OmegaConf.to_container(cfg.conformers, resolve=True))
    for flag in ("--pool-size", "--num-conformers"):
        cli = config_from_args(build_parser().parse_args(["in.csv", flag, "10"]))
        assert cli.cache_settings() == trained.cache_settings()
