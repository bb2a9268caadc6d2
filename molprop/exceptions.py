"""Exceptions raised by molprop for problems with user input.

Every message names what was read (file or argument), where (row, column, record),
the value that was received and what was expected, so that a user can fix the input
without reading the code.
"""

from __future__ import annotations


class MolpropError(ValueError):
    """Base class of all molprop errors."""


class InputError(MolpropError):
    """A user-supplied file, column, value or setting is invalid."""


class TooManySkippedError(InputError):
    """More molecules were skipped than ``data.max_skipped_fraction`` allows."""


class TrainingError(MolpropError):
    """Training cannot go on, e.g. the loss became NaN or infinite."""


class ArtifactError(MolpropError):
    """A run directory or its ``model/`` folder is missing, incomplete or incompatible."""
