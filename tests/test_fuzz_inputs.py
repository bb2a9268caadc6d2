"""Property-based fuzzing of the input readers and of predict's input path (hypothesis).

Whatever the bytes, column layout or SMILES, a reader either raises one clear
:class:`~molprop.exceptions.MolpropError` (one line that names the file) or returns one row
per input row, in input order, with the cells exactly as written.
"""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from molprop.data.io import read_table
from molprop.exceptions import MolpropError
from molprop.inference.readers import check_csv, iter_smiles_chunks

FAST = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: Text a CSV cell may hold: printable and not, quotes, commas, line ends (no NUL, no BOM).
CELL_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufeff")
SMILES_LIKE = st.text(alphabet="CNOSclnos()[]=#+-123@H/\\.%", max_size=14)
CELLS = st.one_of(
    SMILES_LIKE,
    st.text(CELL_CHARS, max_size=8),
    st.sampled_from(["", "NA", "nan", "None", "1", "0", "-2.5", "1e400", "inf", "abc"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**6), 10**6).map(str),
)


_DIR: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def fuzz_dir(tmp_path_factory):
    """Folder of this module's files (removed with pytest's other temporary folders)."""
    _DIR[:] = [tmp_path_factory.mktemp("fuzz")]
    yield _DIR[0]


def temp_file(content: bytes, suffix: str) -> Path:
    """A fresh file per example (hypothesis runs many examples in one test call)."""
    path = _DIR[0] / f"{uuid.uuid4().hex}{suffix}"
    path.write_bytes(content)
    return path


def assert_clear(err: MolpropError, path: Path) -> None:
    message = str(err)
    assert str(path) in message and message.strip() and "Traceback" not in message


@st.composite
def layouts(draw):
    """A header and rows of random cells (the widths of the rows equal the header's)."""
    names = draw(st.lists(st.text(CELL_CHARS, min_size=1, max_size=6), min_size=1, max_size=4))
    if draw(st.booleans()):
        names[0] = "smiles"
    rows = draw(st.lists(st.lists(CELLS, min_size=len(names), max_size=len(names)), max_size=6))
    return names, rows


def csv_bytes(names: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(names)
    writer.writerows(rows)
    return buffer.getvalue().encode()


@FAST
@given(st.binary(max_size=300), st.booleans())
def test_random_bytes_csv_reader(content, require):
    path = temp_file(content, ".csv")
    try:
        table = read_table(path, require_targets=require)
    except MolpropError as err:
        assert_clear(err, path)
        return
    assert len(table) >= 1 and table.targets.shape[0] == len(table)


@FAST
@given(st.binary(max_size=300))
def test_random_bytes_predict_reader(content):
    path = temp_file(content, ".csv")
    try:
        count = check_csv(path)
    except MolpropError as err:
        assert_clear(err, path)
        return
    frames = list(iter_smiles_chunks(None, path, chunk_size=3))
    assert sum(len(f) for f in frames) == count


@FAST
@given(layouts())
def test_random_layouts_keep_every_row(layout):
    names, rows = layout
    path = temp_file(csv_bytes(names, rows), ".csv")
    unique = len(set(names)) == len(names)
    try:
        frames = list(iter_smiles_chunks(None, path, chunk_size=2))
    except MolpropError as err:
        assert not unique and "appears twice" in str(err)
        return
    assert unique
    got = pd.concat(frames, ignore_index=True)
    assert list(got.columns) == names
    assert got.to_numpy().tolist() == rows if rows else len(got) == 0
    try:
        table = read_table(path, smiles_column=names[0], require_targets=False)
    except MolpropError as err:
        assert_clear(err, path)
        return
    assert table.frame.to_numpy().tolist() == rows  # training keeps every (non-blank) row


def sdf_records(smiles: list[str]) -> bytes:
    from rdkit import Chem

    blocks = []
    for i, smi in enumerate(smiles):
        mol = Chem.MolFromSmiles(smi)
        if mol is not None and mol.GetNumAtoms():
            mol.SetProp("_Name", f"m{i}")
            blocks.append(Chem.MolToMolBlock(mol) + f">  <y>\n{i}.5\n\n$$$$\n")
    return "".join(blocks).encode()


@FAST
@given(
    st.lists(st.sampled_from(["CCO", "c1ccccc1", "C#N", "CC(=O)O", "[NH4+]"]), max_size=4),
    st.lists(st.tuples(st.integers(0, 4000), st.binary(min_size=1, max_size=3)), max_size=4),
)
def test_damaged_sdf_reader(smiles, damage):
    content = bytearray(sdf_records(smiles))
    for position, replacement in damage:
        if content:
            start = position % len(content)
            content[start : start + len(replacement)] = replacement
    path = temp_file(bytes(content), ".sdf")
    try:
        table = read_table(path)
    except MolpropError as err:
        assert_clear(err, path)
        return
    assert len(table.structures) == len(table.errors) == len(table)
    for mol, error in zip(table.structures, table.errors, strict=True):
        assert (mol is None) == (error is not None)


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    from test_predict import make_run

    from molprop.inference.predictor import Predictor

    return Predictor.from_run_dir(make_run(tmp_path_factory.mktemp("fuzz_run")))


@settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(SMILES_LIKE, min_size=1, max_size=5))
def test_predict_one_row_per_random_smiles(predictor, smiles):
    from molprop.inference.stream import predict

    path = temp_file(csv_bytes(["smiles"], [[s] for s in smiles]), ".csv")
    frame = predict(predictor, input_path=path, num_conformers=1, workers=1, chunk_size=2)
    assert frame["smiles"].tolist() == smiles
    ok = frame["error"] == ""
    assert (frame.loc[ok, "num_conformers"] == 1).all()
    assert frame.loc[~ok, "alpha"].isna().all() and (frame.loc[~ok, "num_conformers"] == 0).all()
