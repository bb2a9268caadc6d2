"""Command ``molprop predict`` = ``python predict.py`` (argparse: SMILES contain ``= ( ) # [ ]``).

The prediction logic and the output columns live in :mod:`molprop.inference.stream`.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm.contrib.logging import logging_redirect_tqdm

from molprop.cli.errors import VERBOSE_FLAG, run_command, strip_verbose
from molprop.inference.readers import DEFAULT_CHUNK_SIZE
from molprop.run_dir import check_run_dir

log = logging.getLogger("molprop.inference.stream")
PROG = "molprop predict"


def build_parser():
    """Build the parser of ``predict.py`` (argparse: SMILES contain ``= ( ) # [ ] @``)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="molprop predict",
        description="Predict molecular properties with a trained molprop run.",
        epilog="Output: input columns, per task <task>, <task>_conformer_std "
        "(+ <task>_ensemble_std for ensembles), the calibrated <task>_std, <task>_lower, "
        "<task>_upper (regression; + <task>_mve_std with a variance head) or "
        "<task>_calibrated, <task>_std (classification), num_conformers, error.",
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
    parser.add_argument(
        "--coverage",
        type=float,
        metavar="C",
        help="coverage of the <task>_lower/<task>_upper intervals, 0 < C < 1 "
        "(default: the run's, usually 0.9)",
    )
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--cache-dir", help="conformer cache folder (default: no cache)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or info logs")
    parser.add_argument(
        VERBOSE_FLAG, action="store_true", help="print the full traceback of an error"
    )
    return parser


def check_paths(output: str | None, cache_dir: str | None) -> None:
    """Refuse an ``--output`` or ``--cache-dir`` that cannot be written, before any work.

    Raises:
        InputError: When ``output`` is a directory, ``cache_dir`` is a file, or a folder on
            either path is a regular file.
    """
    from molprop.exceptions import InputError

    for flag, value, want_dir in (("--output", output, False), ("--cache-dir", cache_dir, True)):
        if not value:
            continue
        path = Path(value)
        if not want_dir and path.is_dir():
            raise InputError(f"{flag} '{path}' is a directory; expected a CSV file path")
        if want_dir and path.exists() and not path.is_dir():
            raise InputError(f"{flag} '{path}' is a file; expected a folder (or a new path)")
        for parent in path.parents:
            if parent.exists() and not parent.is_dir():
                raise InputError(
                    f"{flag} '{path}': '{parent}' is a file, not a folder; expected a path "
                    "whose folders are folders"
                )


def _run(args) -> int:
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    check_paths(args.output, args.cache_dir)
    check_run_dir(args.run_dir)  # a mistyped RUN_DIR is reported before torch loads
    # imported here so that `--help` and the checks above answer without loading torch
    from molprop.inference.stream import iter_predictions, predict, write_predictions

    options = dict(
        smiles_column=args.smiles_column,
        num_conformers=args.num_conformers,
        batch_size=args.batch_size,
        workers=args.workers,
        chunk_size=args.chunk_size,
        device=args.device,
        cache_dir=args.cache_dir,
        progress=not args.quiet,
        coverage=args.coverage,
    )
    try:
        with logging_redirect_tqdm():
            if args.output:
                # predict() writes <output>.partial and renames it when every row is written
                rows = predict(args.run_dir, args.smiles, args.input, args.output, **options)
                log.info("wrote %d rows to %s", rows, args.output)
            else:
                frames = iter_predictions(args.run_dir, args.smiles, args.input, **options)
                write_predictions(frames, sys.stdout)
    except BrokenPipeError:  # e.g. `predict.py ... | head`: stop quietly
        sys.stdout = open(os.devnull, "w")  # avoid a second error at exit
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 ok, 2 error or usage, 130 Ctrl-C).

    Only the CSV goes to stdout; the progress bar, logs and the one-line error go to stderr
    (:mod:`molprop.cli.errors`; ``--verbose`` or ``MOLPROP_DEBUG=1`` adds the traceback).
    """
    args = build_parser().parse_args(strip_verbose(sys.argv[1:] if argv is None else argv))
    return run_command(PROG, lambda: _run(args))


if __name__ == "__main__":
    sys.exit(main())
