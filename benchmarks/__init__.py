"""Benchmarks of molprop, run as ``python -m benchmarks.<name>`` (see BENCHMARKS.md)."""
