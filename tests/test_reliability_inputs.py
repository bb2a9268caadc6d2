"""Bad inputs, planted cache files and split files: one clear line each, no row or run lost.

Each case asserts the exception type (or exit code), that the message names what is wrong
and, through a command line, that no traceback is printed. Library functions are called
directly; a subprocess is used only where the command's own output is the point.
"""

from __future__ import annotations

import json
import logging
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molprop.chem.cache import ConformerCache, _encode, cache_key
from molprop.chem.config import ConformerConfig
from molprop.chem.conformers import generate_conformers
from molprop.chem.ensemble import ConformerEnsemble
from molprop.columns import evaluation_columns, output_columns
from molprop.data.dataset import load_or_build
from molprop.data.io import read_table
from molprop.data.splits import file_split
from molprop.exceptions import InputError, MolpropError
from molprop.inference.readers import check_csv, iter_smiles_chunks

ROOT = Path(__file__).resolve().parents[1]
CFG = ConformerConfig(pool_size=2, seed=5, prune_rms=0.0, optimize="uff")


class Planted:
    """Unpickling this calls ``Path.write_text(marker, ...)``: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "MARKER"


@pytest.fixture
def payloads(marker, tmp_path) -> dict[str, bytes]:
    """A raw pickle and a ``torch.save`` zip that each write ``marker`` when unpickled."""
    raw = pickle.dumps(Planted(marker))
    zipped = tmp_path / "planted.pt"
    torch.save({"graphs": Planted(marker)}, zipped)
    pickle.loads(raw)  # the payload does run code when unpickled ...
    assert marker.read_text() == "code ran"
    marker.unlink()  # ... so its absence later shows that nothing unpickled it
    return {"pickle": raw, "torch.save": zipped.read_bytes()}


def write(tmp_path: Path, content: str | bytes, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


# --------------------------------------------------------------- training input: errors
TRAIN_ERRORS = {
    "bad cell in default target": (
        "id,smiles,y\n1,CCO,1.5\n2,CCC,abc\n3,CCN,2.5\n",
        {},
        ["row 1 (line 3)", "column 'y'", "value 'abc' is not a number"],
    ),
    "bad cell in listed target": (
        "smiles,y\nCCO,1\nCCC,1,5\n".replace("1,5", "x"),
        {"target_columns": ["y"]},
        ["row 1 (line 3)", "column 'y'", "'x'"],
    ),
    "duplicate column names": (
        "smiles,y,y\nCCO,1,2\n",
        {},
        ["line 1", "column name 'y' appears twice", "columns 2 and 3"],
    ),
    "ragged row, extra field": (
        "smiles,y\nCCO,1\nCCC,2,3\n",
        {},
        ["line 3", "has 3 fields; expected 2"],
    ),
    "ragged row, missing field": (
        "smiles,y,z\nCCO,1,2\nCCC,2\n",
        {},
        ["line 3", "has 2 fields; expected 3"],
    ),
    "non-UTF-8 byte": (
        b"smiles,name,y\nCCO,ethanol,1\nCCC,caf\xe9,2\n",
        {},
        ["line 3", "not UTF-8", "re-save it as UTF-8"],
    ),
    "NUL byte": (b"smiles,y\nCC\x00O,1\n", {}, ["line 2", "NUL byte"]),
    "unterminated quote": (
        'smiles,y\n"CCO,1\nCCC,2\n',
        {},
        ["line 2", "not a readable CSV record", "balanced double quotes"],
    ),
    "empty file": ("", {}, ["is empty (0 bytes)"]),
    "blank file": ("\n\n  \n".replace("  ", ""), {}, ["has no header row"]),
    "header only": ("smiles,y\n", {}, ["has a header row but no data rows"]),
    "header then blank lines": ("smiles,y\n\n\n", {}, ["no data rows"]),
    "inf token": ("smiles,y\nCCO,1\nCCC,inf\n", {}, ["row 1 (line 3)", "not a finite number"]),
    "overflowing value": ("smiles,y\nCCO,1\nCCC,1e400\n", {}, ["'1e400' is not a finite"]),
    "beyond float32": ("smiles,y\nCCO,1\nCCC,-1e39\n", {}, ["'-1e39'", "float32 range"]),
    "only NaN tokens": (
        "smiles,y\nCCO,NA\nCCC,nan\nCCN,null\n",
        {"target_columns": ["y"]},
        ["column 'y'", "has no values"],
    ),
    "only an identifier is numeric": (
        "id,smiles,note\n10,CCO,a\n11,CCC,b\n12,CCN,c\n",
        {},
        ["no target column found", "['id'] look like identifiers", "data.target_columns"],
    ),
    "classification value 2": (
        "smiles,y\nCCO,1\nCCC,0\nCCN,2.0\n",
        {"task": "classification"},
        ["row 2 (line 4)", "'2.0' is not a class label"],
    ),
    "bad cell after a blank line names its real line": (
        "smiles,y\nCCO,1\n\nCCC,zz\n",
        {},
        ["row 1 (line 4)", "'zz'"],
    ),
}


@pytest.mark.parametrize("case", TRAIN_ERRORS, ids=list(TRAIN_ERRORS))
def test_training_csv_errors(tmp_path, case):
    text, kwargs, parts = TRAIN_ERRORS[case]
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        read_table(path, **kwargs)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    for part in parts:
        assert part in message


# ------------------------------------------------------------ training input: accepted
def test_bom_is_removed(tmp_path):
    table = read_table(write(tmp_path, b"\xef\xbb\xbfsmiles,y\nCCO,1.5\nCCC,2\n"))
    assert table.smiles_column == "smiles" and table.target_columns == ["y"]


def test_blank_lines_and_quoted_newlines_keep_rows_and_lines(tmp_path):
    path = write(tmp_path, 'smiles,note,y\r\n\r\nCCO,"two\r\nlines",1\r\n\r\nCCC,b,2\r\n')
    table = read_table(path)
    assert table.smiles == ["CCO", "CCC"] and table.frame["note"].tolist() == ["two\r\nlines", "b"]
    np.testing.assert_array_equal(table.targets[:, 0], [1.0, 2.0])


def test_lone_cr_line_ends(tmp_path):
    assert read_table(write(tmp_path, "smiles,y\rCCO,1.5\rCCC,2\r")).smiles == ["CCO", "CCC"]


def test_na_tokens_are_missing(tmp_path):
    path = write(tmp_path, "smiles,y\nCCO,1.5\nCCC,NA\nCCN,\nCCCl,None\nCCBr, nan \n")
    assert np.isnan(read_table(path).targets[1:, 0]).all()


def test_identifier_columns_are_carried(tmp_path, caplog):
    text = "Compound ID,num,smiles,y\n7,0,CCO,1.5\n7,1,CCC,2.5\n8,2,CCN,0.5\n"
    with caplog.at_level(logging.INFO, logger="molprop.data.tables"):
        table = read_table(write(tmp_path, text))
    assert table.target_columns == ["y"] and table.carried_columns == ["Compound ID", "num"]
    assert "'Compound ID' is carried, not trained: its name" in caplog.text
    assert "'num' is carried, not trained: its values are all distinct integers" in caplog.text
    listed = read_table(write(tmp_path, text), target_columns=["num", "y"])
    assert listed.target_columns == ["num", "y"] and listed.targets[2, 0] == 2.0


def test_text_columns_are_carried_and_targets_logged(tmp_path, caplog):
    path = write(tmp_path, "smiles,name,y\nCCO,ethanol,0.5\nCCC,propane,1.5\n")
    with caplog.at_level(logging.INFO, logger="molprop.data.tables"):
        table = read_table(path)
    assert table.carried_columns == ["name"]
    assert "training on target columns ['y'] as regression" in caplog.text


def test_task_inferred_logged_and_overridden(tmp_path, caplog):
    path = write(tmp_path, "smiles,p_np\nCCO,1\nCCC,0\nCCN,\nCCCl,1\n")
    with caplog.at_level(logging.INFO, logger="molprop.data.tables"):
        assert read_table(path).task == "classification"
    assert "data.task inferred as classification (every target value is 0 or 1" in caplog.text
    assert read_table(path, task="regression").task == "regression"


def test_csv_config_leaves_task_to_inference():
    from conftest import compose_train

    assert compose_train(["data=csv", "data.path=x.csv"]).data.task is None


def test_duplicate_smiles_warn_once(tmp_path, caplog):
    path = write(tmp_path, "smiles,y\nCCO,0.5\nCCO,1.5\n")
    with caplog.at_level(logging.WARNING):
        assert len(read_table(path)) == 2
    assert len([r for r in caplog.records if "repeat the SMILES" in r.getMessage()]) == 1


# ----------------------------------------------------------------------- SDF input
def sdf_text(records: list[tuple[str, dict]]) -> str:
    """Methane records (name, tags), written by RDKit."""
    from rdkit import Chem

    blocks = []
    for name, tags in records:
        mol = Chem.MolFromSmiles("C")
        mol.SetProp("_Name", name)
        for key, value in tags.items():
            mol.SetProp(key, value)
        body = Chem.MolToMolBlock(mol)
        blocks.append(body + "".join(f">  <{k}>\n{v}\n\n" for k, v in tags.items()) + "$$$$\n")
    return "".join(blocks)


def test_sdf_bad_tag_names_record(tmp_path):
    path = write(tmp_path, sdf_text([("a", {"y": "1"}), ("b", {"y": "oops"})]), "in.sdf")
    with pytest.raises(InputError, match=r"record 2 \(_Name 'b'\), SD tag 'y': value 'oops'"):
        read_table(path)


def test_sdf_identifier_tag_carried_and_bad_record_kept(tmp_path):
    text = sdf_text([("a", {"ID": "5", "y": "1.5"})]) + "garbage\n$$$$\n"
    text += sdf_text([("c", {"ID": "6", "y": "2.5"})])
    table = read_table(write(tmp_path, text, "in.sdf"))
    assert table.target_columns == ["y"] and "ID" in table.carried_columns
    assert len(table) == 3 and table.errors[0] is None and table.errors[2] is None
    assert "invalid SDF record 2" in table.errors[1]


def test_sdf_without_records(tmp_path):
    with pytest.raises(InputError, match="has no SDF records"):
        read_table(write(tmp_path, b"\x00\x01 not an sdf", "in.sdf"))


# ------------------------------------------------------------------- predict input
def predict_rows(path: Path, chunk_size: int = 2) -> pd.DataFrame:
    return pd.concat(list(iter_smiles_chunks(None, path, chunk_size)), ignore_index=True)


def test_predict_one_column_blank_lines_are_rows(tmp_path):
    path = write(tmp_path, "smiles\nCCO\n\nCCC\n\n\nCCN\n")  # 6 input lines after the header
    rows = predict_rows(path)
    assert rows["smiles"].tolist() == ["CCO", "", "CCC", "", "", "CCN"]
    assert check_csv(path) == 6


def test_predict_multi_column_blank_line_and_order(tmp_path):
    path = write(tmp_path, 'id,smiles\n1,CCO\n\n3,"C\nC"\n4,CCN\n')
    rows = predict_rows(path, chunk_size=1)
    assert rows["id"].tolist() == ["1", "", "3", "4"]
    assert rows["smiles"].tolist() == ["CCO", "", "C\nC", "CCN"]


@pytest.mark.parametrize(
    ("content", "parts"),
    [
        (b"smiles,id\nCCO,1\nCCC,2,3\n", ["line 3", "has 3 fields; expected 2"]),
        (b"smiles\nCCO\n\xff\xfeCC\n", ["line 3", "not UTF-8"]),
        (b"smiles,smiles\nCCO,CCC\n", ["column name 'smiles' appears twice"]),
        (b"", ["has no header row"]),
    ],
    ids=["ragged", "non-utf8", "duplicate-columns", "empty"],
)
def test_predict_input_errors(tmp_path, content, parts):
    path = write(tmp_path, content)
    with pytest.raises(InputError) as info:
        check_csv(path)
    for part in parts:
        assert part in str(info.value) and f"--input '{path}'" in str(info.value)


@pytest.fixture(scope="module")
def reg_run(tmp_path_factory):
    from test_predict import make_run

    return make_run(tmp_path_factory.mktemp("reliability_run"))


def test_predict_cli_keeps_every_row(reg_run, tmp_path):
    from molprop.cli.predict import main

    path = write(tmp_path, "smiles\nC\n\nbad(\n\nCO\n")
    out = tmp_path / "out.csv"
    args = [str(reg_run), "--input", str(path), "--output", str(out), "--workers", "1"]
    assert main([*args, "--quiet", "--num-conformers", "1"]) == 0
    frame = pd.read_csv(out, keep_default_na=False, dtype=str)
    assert frame["smiles"].tolist() == ["C", "", "bad(", "", "CO"]
    assert frame["error"].tolist()[1] == "invalid SMILES: empty value"
    assert frame["error"].tolist()[0] == "" and frame["error"].tolist()[4] == ""


def test_predict_cli_bad_file_is_one_line(reg_run, tmp_path, capsys):
    from molprop.cli.predict import main

    path = write(tmp_path, b"smiles\nCCO\nC\xe9C\n")
    out = tmp_path / "out.csv"
    assert main([str(reg_run), "--input", str(path), "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("molprop predict: error: ")
    assert (
        f"--input '{path}', line 3: bytes b'\\xe9C\\n' are not UTF-8 (invalid continuation "
        "byte); expected a UTF-8 text file (re-save it as UTF-8)"
    ) in err[0]
    assert not out.exists()


# -------------------------------------------------------------------------- caches
def tiny_graphs():
    from molprop.data.pipeline import smiles_to_graphs

    graphs, _ = smiles_to_graphs(
        ["CCO", "CN"],
        {"pool_size": 2, "prune_rms": 0.0},
        {"hydrogens": "implicit"},
        num_workers=1,
    )
    return [g for mol in graphs for g in mol], {"canonical": ["CCO", "CN"], "errors": [None] * 2}


@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_planted_processed_file_never_runs(tmp_path, payloads, marker, caplog, kind):
    graphs, meta = tiny_graphs()
    root = tmp_path / "datasets" / "x"
    load_or_build(root, "k", lambda: (graphs, meta))
    for path in (root / "processed").iterdir():  # every file: graphs and metadata
        path.write_bytes(payloads[kind])
    (root / "processed" / "graphs_k.pt").write_bytes(payloads[kind])  # PyG's own name
    with caplog.at_level(logging.WARNING, logger="molprop.data.dataset"):
        dataset, _, loaded = load_or_build(root, "k", lambda: (graphs, meta))
    assert not marker.exists() and not loaded and len(dataset) == len(graphs)
    assert "are unreadable" in caplog.text and "rebuilding them" in caplog.text
    again, _, loaded = load_or_build(root, "k", lambda: pytest.fail("rebuilt twice"))
    assert loaded and torch.equal(again[0].pos, dataset[0].pos)


@pytest.mark.parametrize("damage", ["truncated", "foreign tensors", "bad metadata"])
def test_damaged_processed_file_rebuilt_twice_in_a_row(tmp_path, caplog, damage):
    from safetensors.torch import save_file

    graphs, meta = tiny_graphs()
    root = tmp_path / "ds"
    load_or_build(root, "k", lambda: (graphs, meta))
    data, meta_path = (
        root / "processed" / "graphs_k.safetensors",
        root / "processed" / "graphs_k.json",
    )
    if damage == "truncated":
        data.write_bytes(data.read_bytes()[:200])
    elif damage == "foreign tensors":
        save_file({"data.x": torch.zeros(2, 2)}, str(data))
    else:
        meta_path.write_text(json.dumps({"canonical": ["CCO"], "errors": []}))
    for _ in range(2):  # the first call rebuilds, the second loads the rebuilt file
        with caplog.at_level(logging.WARNING, logger="molprop.data.dataset"):
            dataset, _, loaded = load_or_build(root, "k", lambda: (graphs, meta))
        assert len(dataset) == len(graphs)
    assert loaded and caplog.text.count("are unreadable") == 1


def test_planted_processed_files_through_the_datamodule(tmp_path, payloads, marker, caplog):
    from molprop.data.datamodule import MolDataModule

    csv = write(
        tmp_path,
        "smiles,y\n" + "".join(f"{s},{i}.5\n" for i, s in enumerate(["CCO", "CCN", "CO", "CN"])),
    )
    kwargs = dict(
        data={"path": str(csv), "split_sizes": [0.5, 0.25, 0.25]},
        conformers={"pool_size": 2, "prune_rms": 0.0, "optimize": "uff", "num_workers": 1},
        graph={"hydrogens": "implicit"},
        cache_dir=str(tmp_path / "cache"),
        progress=False,
    )
    first = MolDataModule(**kwargs)
    first.setup()
    for path in list((tmp_path / "cache" / "datasets").rglob("processed/graphs_*")):
        path.write_bytes(payloads["torch.save"])
        path.with_suffix(".pt").write_bytes(payloads["torch.save"])  # PyG's file name too
    with caplog.at_level(logging.WARNING, logger="molprop.data.dataset"):
        second = MolDataModule(**kwargs)
        second.setup()
    assert not marker.exists() and "are unreadable" in caplog.text
    assert len(second.dataset) == len(first.dataset) and second.split == first.split


def forge_entry(cache: ConformerCache, smiles: str, mol: bytes, atoms: int = 3) -> Path:
    """An entry with a valid header, length and CRC whose molecule bytes are ``mol``."""
    ens = ConformerEnsemble(smiles, mol, np.zeros((1, atoms, 3)), np.zeros(1), 1, "uff")
    path = cache.path(cache_key(smiles, CFG.cache_settings()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_encode(ens))
    return path


@pytest.mark.parametrize("entry", ["pickle file", "pickle as molecule", "wrong atom count"])
def test_bad_conformer_entry_regenerated_twice_in_a_row(tmp_path, payloads, marker, caplog, entry):
    from rdkit import Chem

    cache = ConformerCache(tmp_path)
    path = cache.path(cache_key("CCO", CFG.cache_settings()))
    if entry == "pickle file":
        path.parent.mkdir(parents=True)
        path.write_bytes(payloads["pickle"])
    elif entry == "pickle as molecule":
        forge_entry(cache, "CCO", payloads["pickle"])
    else:
        forge_entry(cache, "CCO", Chem.AddHs(Chem.MolFromSmiles("CCO")).ToBinary(), atoms=4)
    with caplog.at_level(logging.WARNING, logger="molprop.chem.cache"):
        first = generate_conformers(["CCO"], CFG, num_workers=1, cache_dir=tmp_path)
    assert not marker.exists() and "is unreadable" in caplog.text and str(path) in caplog.text
    assert not first[0].cached and first[0].ensemble.mol.GetNumAtoms() == 9
    second = generate_conformers(["CCO"], CFG, num_workers=1, cache_dir=tmp_path)
    assert second[0].cached and second[0].ensemble.coords.shape == first[0].ensemble.coords.shape


# --------------------------------------------------------------------- split files
SPLIT_ERRORS = {
    "JSON true is not row 1": (
        {"train": [0, True], "val": [2], "test": [3]},
        None,
        "split 'train': value true is not a row index",
    ),
    "missing val list": ({"train": [0, 1], "test": [2]}, None, "no 'val' list"),
    "missing val and test": ({"train": [0, 1]}, None, "no 'val' and no 'test' list"),
    "dict of splits without key": (
        {"a": {"train": [], "val": [], "test": []}},
        None,
        "holds the splits ['a']; set data.split_key",
    ),
    "unknown key": ({"a": {"train": [], "val": [], "test": []}}, "b", "split key 'b' not found"),
    "keyed split lacks val": (
        {"a": {"train": [0], "test": [1]}},
        "a",
        "split key 'a': no 'val' list",
    ),
    "list is a number": (
        {"train": 3, "val": [], "test": []},
        None,
        "split 'train': received a JSON int",
    ),
    "top level is a list": ([0, 1, 2], None, "received a JSON list"),
    "row out of range": (
        {"train": [0, 9], "val": [], "test": []},
        None,
        "value 9 is not a row index; expected integers from 0 to 3",
    ),
    "row in two splits": (
        {"train": [0, 1], "val": [1], "test": []},
        None,
        "row 1 is in both 'train' and 'val'",
    ),
}


@pytest.mark.parametrize("case", SPLIT_ERRORS, ids=list(SPLIT_ERRORS))
def test_split_file_errors(tmp_path, case):
    content, key, part = SPLIT_ERRORS[case]
    path = write(tmp_path, json.dumps(content), "split.json")
    with pytest.raises(InputError) as info:
        file_split(path, key, range(4), 4)
    assert part in str(info.value) and str(path) in str(info.value)


# ------------------------------------------------------------------ SDF round trip
def test_conformer_sdf_reads_back_one_molecule_per_row(tmp_path):
    from molprop.data.conformer_jobs import run_conformer_job

    csv = write(tmp_path, "smiles\nCCO\nbad(\nc1ccccc1O\nCCN\n")
    out = tmp_path / "confs.sdf"
    summary = run_conformer_job(
        csv, CFG, num_workers=1, cache_dir=tmp_path / "c", out=out, progress=False
    )
    assert summary["failures"] == 1
    table = read_table(out, require_targets=False)
    assert table.frame["_Name"].tolist() == ["row0", "row2", "row3"]
    assert table.frame["row"].tolist() == ["0", "2", "3"]
    assert table.smiles == ["CCO", "Oc1ccccc1", "CCN"]
    results = generate_conformers(table.smiles, CFG, num_workers=1, cache_dir=tmp_path / "c")
    for mol, result in zip(table.structures, results, strict=True):
        coords = np.stack([c.GetPositions() for c in mol.GetConformers()])
        np.testing.assert_allclose(coords, result.ensemble.coords, atol=1e-4)


def conformers_cli(*args: str):
    import os

    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "molprop.cli.conformers", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )


def test_conformers_cli_duplicate_warning_once_and_quiet(tmp_path):
    csv = write(tmp_path, "smiles\nCCO\nCCO\nCN\n")
    common = [
        str(csv),
        "--num-conformers",
        "2",
        "--optimize",
        "uff",
        "--workers",
        "1",
        "--cache-dir",
        str(tmp_path / "c"),
        "--out",
        str(tmp_path / "o.sdf"),
    ]
    loud = conformers_cli(*common)
    assert loud.returncode == 0 and loud.stderr.count("repeat the SMILES") == 1
    quiet = conformers_cli(*common, "--quiet")
    assert quiet.returncode == 0 and "repeat the SMILES" not in quiet.stderr
    assert "Traceback" not in loud.stderr + quiet.stderr
    assert len(read_table(tmp_path / "o.sdf", require_targets=False)) == 3


# ---------------------------------------------------------------- output contract
def test_test_predictions_follow_the_predict_contract():
    from molprop.bagging import Aggregated
    from molprop.train.evaluate import Evaluation, predictions_frame

    def agg(values, spread=None):
        t = torch.tensor(values, dtype=torch.float32)
        return Aggregated(
            prediction=t,
            conformer_std=t * 0 + 0.1,
            ensemble_std=spread,
            num_conformers=torch.tensor([2, 3]),
            mol_idx=torch.tensor([4, 1]),
        )

    ens = agg([[1.0, 0.2], [2.0, 0.8]], spread=torch.full((2, 2), 0.5))
    result = Evaluation(
        {}, {}, agg([[1.1, 0.3], [2.1, 0.7]]), ens, ens, torch.tensor([[0.9, 0.0], [2.2, 1.0]])
    )
    inputs = pd.DataFrame(
        {"smiles": list("ABCDE"), "id": [f"m{i}" for i in range(5)], "b": list("vwxyz")},
        index=pd.RangeIndex(5, name="row"),
    )
    frame = predictions_frame(result, ["a", "b"], inputs)
    assert list(frame.columns) == ["row", "smiles", "id", "b_input"] + evaluation_columns(
        ["a", "b"], 2
    )
    assert frame["row"].tolist() == [4, 1] and frame["id"].tolist() == ["m4", "m1"]
    assert frame["a"].tolist() == [1.0, 2.0] and frame["a_true"].tolist() == pytest.approx(
        [0.9, 2.2]
    )
    assert frame["a_single_conformer"].tolist() == pytest.approx([1.1, 2.1])
    predicted = [c for c in output_columns(["a", "b"], 2) if c != "error"]
    assert set(predicted) <= set(frame.columns)


def test_every_error_is_a_molprop_value_error():
    assert issubclass(InputError, MolpropError) and issubclass(MolpropError, ValueError)
