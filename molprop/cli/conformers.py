r"""Command ``molprop conformers``: fill the conformer cache for a SMILES CSV.

Example::

    molprop conformers molecules.csv --num-conformers 10 --workers 4 \
        --cache-dir data/cache --out conformers.sdf

Also ``python -m molprop.cli.conformers``. Prints a summary; the last line is JSON
``{"molecules", "conformers", "failures", "seconds"}``. Molecules that cannot be parsed or
embedded are skipped and listed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from molprop.chem.config import OPTIMIZERS, ConformerConfig
from molprop.cli.errors import VERBOSE_FLAG, run_command, strip_verbose

PROG = "molprop conformers"


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Generate (and cache) RDKit ETKDGv3 conformer ensembles for a SMILES CSV.",
    )
    parser.add_argument("input", help="CSV file with a SMILES column")
    parser.add_argument("--smiles-column", default=None, help="default: smiles, else column 1")
    parser.add_argument("--num-conformers", type=int, default=10, help="K per molecule")
    parser.add_argument("--optimize", choices=OPTIMIZERS, default="mmff")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prune-rms", type=float, default=0.5)
    parser.add_argument(
        "--max-attempts",
        type=int,
        default=5,
        help="ETKDG attempts per conformer, 0 = RDKit's limit (default 5, as in training)",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per molecule")
    parser.add_argument("--workers", type=int, default=None, help="default: all cores")
    parser.add_argument("--cache-dir", default="data/cache", help="'' disables the cache")
    parser.add_argument("--out", default=None, help="write every conformer to this SDF")
    parser.add_argument("--skipped", default=None, help="CSV of skipped rows (row,smiles,reason)")
    parser.add_argument("--keep-fragments", action="store_true", help="do not strip salts")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(VERBOSE_FLAG, action="store_true", help="print the traceback of an error")
    return parser


def config_from_args(args: argparse.Namespace) -> ConformerConfig:
    """Conformer settings of the command.

    The defaults equal ``conf/conformers/default.yaml`` (same cache keys), so filling the cache
    here saves the conformer stage of ``train.py``.
    """
    return ConformerConfig(
        num_conformers=args.num_conformers,
        seed=args.seed,
        prune_rms=args.prune_rms,
        max_attempts=args.max_attempts,
        optimize=args.optimize,
        timeout=args.timeout,
    )


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from molprop.data.conformer_jobs import run_conformer_job

    cfg = config_from_args(args)
    summary = run_conformer_job(
        args.input,
        cfg,
        smiles_column=args.smiles_column,
        num_workers=args.workers,
        cache_dir=args.cache_dir or None,
        out=args.out,
        skipped_path=args.skipped,
        largest_fragment=not args.keep_fragments,
        progress=not args.quiet,
    )
    skipped = summary.pop("skipped")
    for row in skipped.itertuples(index=False):
        print(f"skipped row {row.row} ({row.smiles}): {row.reason}")
    print(
        f"molecules: {summary['molecules']}  conformers: {summary['conformers']}  "
        f"failures: {summary['failures']}  embedded: {summary['embedded']}  "
        f"seconds: {summary['seconds']:.2f}"
    )
    if args.out:
        print(f"wrote {args.out}")
    keys = ("molecules", "conformers", "failures", "seconds")
    print(json.dumps({k: summary[k] for k in keys}))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status (0 ok, 2 error: one line on stderr)."""
    args = build_parser().parse_args(strip_verbose(sys.argv[1:] if argv is None else argv))
    return run_command(PROG, lambda: _run(args))


if __name__ == "__main__":
    sys.exit(main())
