"""Where molprop finds its project root (for ``conf/`` paths such as ``../shared/data``)."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """Return the project root used by ``paths.root_dir`` in ``conf/paths/default.yaml``.

    ``$MOLPROP_ROOT`` when set; otherwise the source checkout containing this package
    (it has ``conf/train.yaml``); otherwise the current working directory.
    """
    env = os.environ.get("MOLPROP_ROOT")
    if env:
        return Path(env).resolve()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "conf" / "train.yaml").is_file():
        return checkout
    return Path.cwd().resolve()
