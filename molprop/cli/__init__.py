"""Command-line entry points: ``molprop train | predict | conformers``."""
