"""GPU check, CPU cores vs one GPU: the ``--gpu-check`` mode of ``benchmarks.backbone_step``.

``python -m benchmarks.gpu_check [--device cuda] [--quick] [--no-tests] [--out FILE]``; see
BENCHMARKS.md ("Backbone training step", GPU).
"""

import sys

from benchmarks.backbone_step import main

if __name__ == "__main__":
    raise SystemExit(main(["--gpu-check", *sys.argv[1:]]))
