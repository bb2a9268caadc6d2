"""``python -m molprop.predict`` runs ``molprop predict`` (see :mod:`molprop.cli.predict`)."""

from molprop.cli.predict import main

if __name__ == "__main__":
    raise SystemExit(main())
