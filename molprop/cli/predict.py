"""Command line of ``predict.py`` (argparse, not Hydra: SMILES contain ``= ( ) # [ ] @``).

The prediction logic and the output columns live in :mod:`molprop.inference.stream`.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from tqdm.contrib.logging import logging_redirect_tqdm

from molprop.inference.stream import (
    DEFAULT_CHUNK_SIZE,
    iter_predictions,
    predict,
    write_predictions,
)

log = logging.getLogger("molprop.inference.stream")


def build_parser():
    """Build the parser of ``predict.py`` (argparse: SMILES contain ``= ( ) # [ ] @``)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="predict.py",
        description="Predict molecular properties with a trained molprop run.",
        epilog="Output: input columns, per task <task>, <task>_conformer_std "
        "(+ <task>_ensemble_std for ensembles), num_conformers, error.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="training run directory (has model/)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--smiles", nargs="+", metavar="S", help="SMILES strings to predict")
    source.add_argument("--input", metavar="FILE", help="CSV with a SMILES column, or an SDF")
    parser.add_argument("--smiles-column", metavar="C", help="SMILES column of the CSV")
    parser.add_argument("--output", metavar="FILE", help="output CSV (default: stdout)")
    parser.add_argument(
        "--num-conformers",
        type=int,
        metavar="K",
        help="conformers per SMILES (default: the run's settings)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=64,
        metavar="B",
        help="conformer graphs per forward pass (default: 64)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes for conformer generation (default: all cores)",
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=DEFAULT_CHUNK_SIZE,
        metavar="R",
        help=f"input rows per streamed chunk (default: {DEFAULT_CHUNK_SIZE})",
    )
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--cache-dir", help="conformer cache folder (default: no cache)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or info logs")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 ok, 1 error, 2 usage).

    Only the CSV goes to stdout; the progress bar and logs go to stderr.
    """
    from molprop.exceptions import MolpropError

    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    options = dict(
        smiles_column=args.smiles_column,
        num_conformers=args.num_conformers,
        batch_size=args.batch_size,
        workers=args.workers,
        chunk_size=args.chunk_size,
        device=args.device,
        cache_dir=args.cache_dir,
        progress=not args.quiet,
    )
    try:
        with logging_redirect_tqdm():
            if args.output:
                rows = predict(args.run_dir, args.smiles, args.input, args.output, **options)
                log.info("wrote %d rows to %s", rows, args.output)
            else:
                frames = iter_predictions(args.run_dir, args.smiles, args.input, **options)
                write_predictions(frames, sys.stdout)
    except BrokenPipeError:  # e.g. `predict.py ... | head`: stop quietly
        sys.stdout = open(os.devnull, "w")  # avoid a second error at exit
        return 0
    except MolpropError as err:
        print(f"predict.py: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("predict.py: interrupted", file=sys.stderr)
        return 130
    return 0
