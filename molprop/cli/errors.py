"""The one place where command-line entry points turn errors into exit codes.

Every subcommand (``molprop train|predict|conformers``) and the root shims run through
:func:`run_command`. A :class:`~molprop.exceptions.MolpropError` (bad input, damaged run
directory, diverged training) or a plain :class:`OSError` (missing or unreadable file, read-only
or full disk, a path under a regular file) prints ONE line on stderr and exits with
:data:`EXIT_ERROR`. ``MOLPROP_DEBUG=1`` (or ``--verbose`` on the command line) prints the full
traceback as well. Anything else is a bug in molprop and keeps its traceback.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence

from molprop.exceptions import MolpropError

#: Exit status of a user or environment error (argparse uses 2 for usage errors, too).
EXIT_ERROR = 2
#: Exit status after Ctrl-C.
EXIT_INTERRUPTED = 130
#: Environment variable that turns tracebacks on.
DEBUG_ENV = "MOLPROP_DEBUG"
#: Command-line switch that turns tracebacks on (removed before the command parses its args).
VERBOSE_FLAG = "--verbose"

#: Errors reported in one line: molprop's own and the operating system's.
USER_ERRORS: tuple[type[BaseException], ...] = (MolpropError, OSError)


def debug_enabled() -> bool:
    """Whether ``$MOLPROP_DEBUG`` asks for full tracebacks (any value but '', 0, false, no)."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def strip_verbose(argv: Sequence[str]) -> list[str]:
    """Remove ``--verbose`` from ``argv``; when present, set ``$MOLPROP_DEBUG=1``.

    The variable (not a flag) carries the choice, so that subprocesses such as DDP ranks
    inherit it.
    """
    args = list(argv)
    if VERBOSE_FLAG in args:
        args = [a for a in args if a != VERBOSE_FLAG]
        os.environ[DEBUG_ENV] = "1"
    return args


def one_line(err: BaseException) -> str:
    """Return the message of ``err`` on one line (a multi-line message is joined by '; ')."""
    text = str(err).strip() or type(err).__name__
    if isinstance(err, OSError) and err.filename is not None and str(err.filename) not in text:
        text = f"{text}: '{err.filename}'"
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


def report(prog: str, err: BaseException) -> int:
    """Print ``prog: error: <message>`` (plus the traceback when debugging); return the status."""
    if debug_enabled():
        traceback.print_exception(type(err), err, err.__traceback__, file=sys.stderr)
    hint = "" if debug_enabled() else f" (set {DEBUG_ENV}=1 for the traceback)"
    kind = "" if isinstance(err, MolpropError) else f"{type(err).__name__}: "
    print(f"{prog}: error: {kind}{one_line(err)}{hint}", file=sys.stderr, flush=True)
    return EXIT_ERROR


def run_command(prog: str, main: Callable[[], int | None]) -> int:
    """Run ``main()`` and turn user errors into one line on stderr and exit status 2.

    Args:
        prog: Name printed before the message, e.g. ``"molprop train"``.
        main: The command; returns its exit status (``None`` means 0).

    Returns:
        ``main``'s status, :data:`EXIT_ERROR` for a user error, 130 after Ctrl-C.
    """
    try:
        status = main()
    except USER_ERRORS as err:
        return report(prog, err)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0 if status is None else int(status)
