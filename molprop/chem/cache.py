r"""Content-addressed on-disk cache of conformer ensembles.

Layout: ``<cache_dir>/conformers/<key[:2]>/<key>.conf``, one small binary file per
molecule that is read with a single ``read()`` and :func:`numpy.frombuffer` (no pickle):

- 8-byte magic ``MPCONF1\n``, a little-endian uint32 header length, then a JSON header
  ``{"smiles", "num_requested", "method", "error", "K", "N", "mol_bytes", "crc32"}``;
- payload: coordinates float64 ``[K, N, 3]``, energies float64 ``[K]``, and the molecule
  as ``Chem.Mol.ToBinary()`` (explicit hydrogens, atom order of the coordinates).

The CRC-32 of the payload and its exact length are checked on every read. A
deterministic embedding failure is cached too (``error`` set, ``K = 0``), so a second run
embeds nothing at all. The key is the SHA-256 of the canonical isomeric SMILES, the
conformer settings, the RDKit version and the cache format version.

Writes are atomic: the entry is written to a uniquely named temporary file in the same
directory (``.<key>.<pid>.<random>.tmp``) and moved into place with :func:`os.replace`.
A killed writer can therefore only leave a temporary file, which readers never open;
two concurrent writers each rename a complete file. An entry that cannot be read or
fails validation (bad magic, length or CRC-32, a molecule that does not parse or does not
match the coordinates) is logged, deleted and reported as missing, so it is regenerated
once and read normally on every later run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rdkit
from rdkit import Chem

from molprop.chem.ensemble import ConformerEnsemble

log = logging.getLogger(__name__)

#: Bump when the entry layout or the embedding procedure changes.
CACHE_FORMAT = 1
MAGIC = b"MPCONF1\n"


@dataclass
class CachedFailure:
    """A cached deterministic embedding failure."""

    smiles: str
    reason: str


def cache_key(smiles: str, settings: dict) -> str:
    """Content key of one molecule's ensemble (64 hex characters).

    Args:
        smiles: Canonical isomeric SMILES.
        settings: The conformer settings that change coordinates
            (:meth:`ConformerConfig.cache_settings`).
    """
    payload = {
        "smiles": smiles,
        "settings": settings,
        "rdkit": rdkit.__version__,
        "format": CACHE_FORMAT,
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


class ConformerCache:
    """Directory of cached ensembles; safe for concurrent readers and writers.

    Args:
        cache_dir: Root cache directory (``paths.cache_dir``); entries go under
            ``<cache_dir>/conformers``.
    """

    def __init__(self, cache_dir: str | os.PathLike):
        self.root = Path(cache_dir) / "conformers"
        self._root = str(self.root)

    def path(self, key: str) -> Path:
        """Return the final path of the entry with this key."""
        return Path(os.path.join(self._root, key[:2], key + ".conf"))

    def load(self, key: str, smiles: str) -> ConformerEnsemble | CachedFailure | None:
        """Read an entry; ``None`` when absent or unreadable (then it is deleted)."""
        path = self.path(key)
        try:
            with open(path, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            return None
        try:
            return _read_entry(raw, smiles)
        except Exception as exc:  # any corruption: truncated zip, bad arrays, bad mol
            log.warning("Conformer cache entry %s is unreadable (%s); regenerating it", path, exc)
            try:
                path.unlink()
            except OSError:
                pass
            return None

    def save(self, key: str, item: ConformerEnsemble | CachedFailure) -> Path:
        """Atomically write an entry (temporary file in the same directory, then rename)."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{key}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            with open(tmp, "wb") as handle:
                handle.write(_encode(item))
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return path


def _encode(item: ConformerEnsemble | CachedFailure) -> bytes:
    """Serialise an entry: magic, header length, JSON header, payload."""
    if isinstance(item, CachedFailure):
        header = {
            "smiles": item.smiles,
            "num_requested": 0,
            "method": "none",
            "error": item.reason,
            "K": 0,
            "N": 0,
        }
        payload = b""
    else:
        coords = np.ascontiguousarray(item.coords, dtype="<f8")
        energies = np.ascontiguousarray(item.energies, dtype="<f8")
        mol = item.mol_binary
        header = {
            "smiles": item.smiles,
            "num_requested": int(item.num_requested),
            "method": item.method,
            "error": None,
            "K": int(coords.shape[0]),
            "N": int(coords.shape[1]),
            "mol_bytes": len(mol),
        }
        payload = coords.tobytes() + energies.tobytes() + mol
    header["crc32"] = zlib.crc32(payload)
    blob = json.dumps(header).encode()
    return MAGIC + struct.pack("<I", len(blob)) + blob + payload


def _parse_mol(blob: bytes, num_atoms: int) -> Chem.Mol:
    """Decode the entry's molecule; a blob that passed the CRC can still be foreign data.

    ``Chem.Mol(bytes)`` is RDKit's own binary format (no Python pickle, no code); it is
    decoded here, not lazily, so a bad entry is regenerated instead of failing later.
    """
    try:
        mol = Chem.Mol(blob)
    except Exception as exc:  # RDKit raises RuntimeError (and others) for bad bytes
        raise ValueError(f"the molecule does not parse ({type(exc).__name__}: {exc})") from None
    if mol.GetNumAtoms() != num_atoms:
        raise ValueError(f"the molecule has {mol.GetNumAtoms()} atoms, the coordinates {num_atoms}")
    return mol


def _read_entry(raw: bytes, smiles: str) -> ConformerEnsemble | CachedFailure:
    if raw[: len(MAGIC)] != MAGIC:
        raise ValueError("not a molprop conformer entry (bad magic bytes)")
    (size,) = struct.unpack_from("<I", raw, len(MAGIC))
    start = len(MAGIC) + 4 + size
    meta = json.loads(raw[len(MAGIC) + 4 : start])
    payload = memoryview(raw)[start:]
    if meta["smiles"] != smiles:
        raise ValueError(f"entry is for SMILES '{meta['smiles']}', expected '{smiles}'")
    k, n = int(meta["K"]), int(meta["N"])
    expected = 8 * (3 * k * n + k) + int(meta.get("mol_bytes", 0))
    if len(payload) != expected or zlib.crc32(payload) != meta["crc32"]:
        raise ValueError(f"payload has {len(payload)} bytes or a bad checksum; expected {expected}")
    if meta.get("error"):
        return CachedFailure(smiles=smiles, reason=str(meta["error"]))
    if k < 1:
        raise ValueError("entry has no conformer")
    coords = np.frombuffer(payload, dtype="<f8", count=3 * k * n).reshape(k, n, 3)
    energies = np.frombuffer(payload, dtype="<f8", count=k, offset=24 * k * n)
    mol = _parse_mol(bytes(payload[8 * (3 * k * n + k) :]), n)
    return ConformerEnsemble(
        smiles=smiles,
        mol=mol,
        coords=coords,
        energies=energies,
        num_requested=int(meta["num_requested"]),
        method=str(meta["method"]),
    )
