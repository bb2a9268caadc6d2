"""The pretraining corpus: a seeded sample without labelled molecules, stereoisomers or salts."""

import pandas as pd
import pytest

from molprop.data.corpus import build_corpus, skeleton_key
from molprop.exceptions import InputError

LABELLED = ["C[C@H](N)C(=O)O", "c1ccccc1O"]
SOURCE = [
    "C[C@@H](N)C(=O)O",  # enantiomer of a labelled molecule: same skeleton, removed
    "[Na+].[O-]c1ccccc1",  # salt of a labelled molecule (largest fragment): removed
    "CCO",
    "CCCN",
    "not a smiles",
    "c1ccncc1",
    "CC(=O)Oc1ccccc1C(=O)O",
]


@pytest.fixture
def files(tmp_path):
    src = tmp_path / "corpus.csv"
    pd.DataFrame({"SMILES": SOURCE}).to_csv(src, index=False)
    lab = tmp_path / "labelled.csv"
    pd.DataFrame({"smiles": LABELLED, "y": [1.0, 2.0]}).to_csv(lab, index=False)
    return src, lab


def test_labelled_skeletons_and_invalid_rows_are_dropped(files, tmp_path):
    src, lab = files
    summary = build_corpus(src, [lab], tmp_path / "out.csv", size=100, seed=0)
    out = pd.read_csv(tmp_path / "out.csv")
    assert summary.kept == len(out) == 4
    assert summary.excluded_labelled == 2 and summary.unparsable == 1
    banned = {skeleton_key(s) for s in LABELLED}
    assert not banned & {skeleton_key(s) for s in out["smiles"]}
    assert sorted(out["source_row"]) == [2, 3, 5, 6]


def test_seeded_order_and_prefix(files, tmp_path):
    src, lab = files
    build_corpus(src, [lab], tmp_path / "a.csv", size=100, seed=3)
    build_corpus(src, [lab], tmp_path / "b.csv", size=2, seed=3)
    build_corpus(src, [lab], tmp_path / "c.csv", size=100, seed=4)
    a, b, c = (pd.read_csv(tmp_path / f"{n}.csv") for n in "abc")
    assert b["source_row"].tolist() == a["source_row"].tolist()[:2]
    assert sorted(c["source_row"]) == sorted(a["source_row"])


def test_missing_column_names_the_file(files, tmp_path):
    src, lab = files
    with pytest.raises(InputError, match="no 'smiles' column"):
        build_corpus(src, [src], tmp_path / "out.csv", size=1)
