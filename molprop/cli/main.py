"""The ``molprop`` console script: ``molprop train | predict | conformers | pretrain``.

``molprop train`` is ``python train.py`` (Hydra); ``molprop predict`` is ``python predict.py``
(argparse); ``molprop conformers`` fills the conformer cache; ``molprop pretrain`` is
``molprop train experiment=pretrain`` after building the pretraining table. Each
subcommand's errors go through :mod:`molprop.cli.errors` (one line on stderr, exit
status 2; ``--verbose`` or ``MOLPROP_DEBUG=1`` for the traceback).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

USAGE = """\
usage: molprop <command> [args ...]

Molecular property prediction with SE(3)-Transformers over RDKit conformer ensembles.

commands:
  train        train a run (Hydra overrides; same as `python train.py`)
               molprop train data=csv data.path=my.csv 'data.target_columns=[logS]'
  predict      predict with a trained run (same as `python predict.py`)
               molprop predict outputs/train/<timestamp> --smiles 'CCO'
  conformers   generate and cache conformer ensembles for a SMILES CSV
               molprop conformers molecules.csv --num-conformers 10 --out confs.sdf
  pretrain     pretrain the backbone on a SMILES corpus (= train experiment=pretrain)
               molprop pretrain pretrain.size=4000 trainer.max_epochs=10

`molprop <command> --help` shows each command's options. User errors print one line and exit
with status 2; add --verbose (or set MOLPROP_DEBUG=1) to see the traceback.
"""


def _train(argv: list[str]) -> int:
    from molprop.cli.train import main

    return main(argv)


def _predict(argv: list[str]) -> int:
    from molprop.cli.predict import main

    return main(argv)


def _conformers(argv: list[str]) -> int:
    from molprop.cli.conformers import main

    return main(argv)


def _pretrain(argv: list[str]) -> int:
    from molprop.cli.pretrain import main

    return main(argv)


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "train": _train,
    "predict": _predict,
    "conformers": _conformers,
    "pretrain": _pretrain,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch ``molprop <command> ...``; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0 if args else 2
    if args[0] in ("-V", "--version"):
        from molprop import __version__

        print(f"molprop {__version__}")
        return 0
    command = COMMANDS.get(args[0])
    if command is None:
        print(
            f"molprop: error: unknown command {args[0]!r}; expected one of "
            f"{', '.join(COMMANDS)} (see `molprop --help`)",
            file=sys.stderr,
        )
        return 2
    return command(args[1:])


if __name__ == "__main__":
    sys.exit(main())
