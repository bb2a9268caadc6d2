"""Distance to the training set: the applicability-domain part of the uncertainty.

A molecule unlike every training molecule is predicted worse (scaffold splits make this the
rule), something neither the ensemble nor the conformer spread has to know. Per molecule

    d = 1 - max_j Tanimoto(fp(x), fp(x_j)),   x_j the training molecules,

with Morgan fingerprints (radius :data:`RADIUS`, :data:`NUM_BITS` bits, RDKit). ``d`` is in
``[0, 1]``: 0 for a molecule of the training set, 1 for one sharing no bit with any. It is
not a variance: the calibration (:func:`molprop.uncertainty.calibration.fit_distance_weight`)
fits the weight ``w`` of ``s^2 + w d`` on validation. The training fingerprints are stored
bit-packed in ``model/`` (:data:`FINGERPRINTS_KEY`), so predict computes ``d`` the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from molprop.atomic import atomic_path
from molprop.exceptions import ArtifactError, InputError

RADIUS = 2
NUM_BITS = 2048
#: Tensor name of the packed training fingerprints ``[n_train, NUM_BITS / 8]`` (uint8).
FINGERPRINTS_KEY = "train_fingerprints"
#: Query molecules compared at once (a ``[chunk, n_train]`` similarity block).
_CHUNK = 1024
#: Training molecules unpacked at once (a ``[_REF_CHUNK, NUM_BITS]`` float32 block, 128 MiB).
_REF_CHUNK = 16384


def fingerprints(mols: Sequence[Chem.Mol | None]) -> np.ndarray:
    """Bit-packed Morgan fingerprints ``[n, NUM_BITS / 8]`` (uint8); a ``None`` row is all 0."""
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=RADIUS, fpSize=NUM_BITS)
    bits = np.zeros((len(mols), NUM_BITS), dtype=np.uint8)
    for i, mol in enumerate(mols):
        if mol is not None:
            bits[i] = gen.GetFingerprintAsNumPy(mol)
    return np.packbits(bits, axis=1)


def smiles_fingerprints(smiles: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fingerprints` of SMILES and a mask of the rows RDKit could parse. ``[n]``."""
    mols = [Chem.MolFromSmiles(s) if isinstance(s, str) and s else None for s in smiles]
    return fingerprints(mols), np.array([m is not None for m in mols], dtype=bool)


def check_packed(name: str, packed: np.ndarray) -> np.ndarray:
    """``packed`` as a ``[n, NUM_BITS / 8]`` uint8 array; ``InputError`` otherwise."""
    array = np.asarray(packed)
    if array.dtype != np.uint8 or array.ndim != 2 or array.shape[1] != NUM_BITS // 8:
        raise InputError(
            f"{name}: received {array.dtype} {array.shape}; expected uint8 "
            f"[n, {NUM_BITS // 8}] (Morgan radius {RADIUS}, {NUM_BITS} bits, packed)"
        )
    return array


def train_distance(query: np.ndarray, train: np.ndarray, valid: np.ndarray | None = None):
    """``1 - max`` Tanimoto similarity of each query fingerprint to the training set.

    Args:
        query: Packed query fingerprints ``[n, NUM_BITS / 8]``.
        train: Packed training fingerprints ``[m, NUM_BITS / 8]``, ``m >= 1``.
        valid: Rows of ``query`` that are molecules (others get NaN); default all.

    Returns:
        Distances in ``[0, 1]``, ``[n]`` (float64). Two empty fingerprints have similarity 0.
    """
    query, train = check_packed("query", query), check_packed("train fingerprints", train)
    if not len(train):
        raise InputError("train fingerprints: received 0 rows; expected at least one molecule")
    # the bit counts are exact in float32 (at most NUM_BITS), so the matmul is too; the
    # training set is unpacked block by block, so memory stays flat for a large one
    out = np.zeros(len(query), dtype=np.float64)  # running max similarity
    for start in range(0, len(query), _CHUNK):
        block = np.unpackbits(query[start : start + _CHUNK], axis=1).astype(np.float32)
        count = block.sum(axis=1, keepdims=True).astype(np.float64)
        for ref_start in range(0, len(train), _REF_CHUNK):
            ref = np.unpackbits(train[ref_start : ref_start + _REF_CHUNK], axis=1)
            ref = ref.astype(np.float32)
            both = (block @ ref.T).astype(np.float64)  # [b, m] shared bits
            union = count + ref.sum(axis=1).astype(np.float64) - both
            sim = np.divide(both, union, out=np.zeros_like(both), where=union > 0)
            stop = start + len(block)
            out[start:stop] = np.maximum(out[start:stop], sim.max(axis=1))
    out = 1.0 - out
    if valid is not None:
        out[~np.asarray(valid, dtype=bool)] = np.nan
    return out


def save_fingerprints(path: str | Path, packed: np.ndarray) -> Path:
    """Write packed training fingerprints as safetensors (atomically); returns ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file({FINGERPRINTS_KEY: check_packed("train fingerprints", packed)}, str(tmp))
    return path


def load_fingerprints(path: str | Path) -> np.ndarray:
    """Read :func:`save_fingerprints` output; ``ArtifactError`` naming the file otherwise."""
    path = Path(path)
    if path.is_symlink() or not path.is_file():
        raise ArtifactError(
            f"training fingerprints '{path}' are missing or not a regular file; the run's "
            "calibration uses the training-set distance (retrain, or copy the whole model/)"
        )
    try:
        packed = load_file(str(path))[FINGERPRINTS_KEY]
        return check_packed("train fingerprints", packed)
    except (SafetensorError, OSError, KeyError, InputError) as err:
        raise ArtifactError(f"training fingerprints '{path}' are unreadable: {err}") from err
