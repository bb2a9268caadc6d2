r"""Command ``molprop conformers``: fill the conformer cache for a SMILES CSV.

Example::

    molprop conformers molecules.csv --pool-size 10 --workers 4 \
        --cache-dir data/cache --out conformers.sdf

Also ``python -m molprop.cli.conformers``. Prints a summary; the last line is JSON
``{"molecules", "conformers", "failures", "seconds"}``. Molecules that cannot be parsed or
embedded are skipped and listed.

Every default is the default of :class:`~molprop.chem.config.ConformerConfig`, the one
that ``train.py`` uses too, so with the defaults the command fills exactly the cache
entries a default training run reads.
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
    """Return the argument parser of the command (defaults from :class:`ConformerConfig`)."""
    default = ConformerConfig()
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Generate (and cache) RDKit ETKDGv3 conformer ensembles for a SMILES CSV.",
    )
    parser.add_argument("input", help="CSV file with a SMILES column")
    parser.add_argument("--smiles-column", default=None, help="default: smiles, else column 1")
    parser.add_argument(
        "--pool-size",
        "--num-conformers",
        dest="pool_size",
        type=int,
        default=default.pool_size,
        help="conformers generated per molecule, conformers.pool_size (default %(default)s)",
    )
    parser.add_argument("--optimize", choices=OPTIMIZERS, default=default.optimize)
    parser.add_argument("--seed", type=int, default=default.seed)
    parser.add_argument("--prune-rms", type=float, default=default.prune_rms)
    parser.add_argument(
        "--max-attempts",
        type=int,
        default=default.max_attempts,
        help="ETKDG attempts per conformer, 0 = RDKit's limit (default %(default)s)",
    )
    parser.add_argument(
        "--max-iters",
        type=int,
        default=default.max_iters,
        help="force-field iterations per conformer (default %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=default.timeout,
        help="seconds per molecule (default %(default)s)",
    )
    parser.add_argument(
        "--workers", type=int, default=default.num_workers, help="default: all cores"
    )
    parser.add_argument("--cache-dir", default="data/cache", help="'' disables the cache")
    parser.add_argument("--out", default=None, help="write every conformer to this SDF")
    parser.add_argument("--skipped", default=None, help="CSV of skipped rows (row,smiles,reason)")
    parser.add_argument("--keep-fragments", action="store_true", help="do not strip salts")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or warnings")
    parser.add_argument(VERBOSE_FLAG, action="store_true", help="print the traceback of an error")
    return parser


def config_from_args(args: argparse.Namespace) -> ConformerConfig:
    """Conformer settings of the command.

    The defaults are :class:`ConformerConfig`'s, as for ``train.py`` at its default K
    (same cache keys), so filling the cache here saves the conformer stage of ``train.py``.
    """
    return ConformerConfig(
        pool_size=args.pool_size,
        seed=args.seed,
        prune_rms=args.prune_rms,
        max_attempts=args.max_attempts,
        optimize=args.optimize,
        timeout=args.timeout,
        max_iters=args.max_iters,
        num_workers=args.workers,
    )


def _run(args: argparse.Namespace) -> int:
    level = logging.ERROR if args.quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
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
