"""What the console scripts share: one-line usage errors, checked numbers, exit statuses.

Exit statuses: 0 after a normal end, Ctrl-C, or a reader that went away (``| head``); 2 for a
bad command line or an input that cannot be used (one line on stderr); 1 for an I/O error
while running or an unexpected internal error (one line on stderr; set ``MONILOG_DEBUG=1`` for
the traceback). A console script never prints a traceback otherwise.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

TYPE_CHECKING = False  # as typing's, which is not imported: the console scripts start faster without it
if TYPE_CHECKING:
    from typing import Callable, NoReturn, Optional

DEFAULT_FILE = "/tmp/access.log"
"""Where ``log_generator`` writes and ``monitoring`` reads by default."""


class UsageError(Exception):
    """A bad command line or an unusable input: one line on stderr, exit status 2."""


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors raise :class:`UsageError` instead of printing usage."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def number(what: str, check: Callable[[float], bool], rule: str) -> Callable[[str], float]:
    """An argparse type: a finite float satisfying ``check``, else an error naming ``what`` and ``rule``."""

    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, not {text!r}") from None
        if not (math.isfinite(value) and check(value)):
            raise argparse.ArgumentTypeError(f"{what} must be {rule}, not {text}")
        return value

    return convert


def count(what: str, most: Optional[int] = None, least: int = 1) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``least`` (and at most ``most``)."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a whole number, not {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{what} must be at least {least}, not {value}")
        if most is not None and value > most:
            raise argparse.ArgumentTypeError(f"{what} must be at most {most}, not {value}")
        return value

    return convert


def run_command(prog: str, body: Callable[[], int]) -> int:
    """Run a console script's ``body`` and turn every way it can end into an exit status."""
    try:
        status = body()
        sys.stdout.flush()
        return status
    except UsageError as error:
        print(f"{prog}: error: {_printable(str(error))} (see {prog} --help)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        # the reader went away: silence the final flush of standard output as well
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:
        print(f"{prog}: error: {_printable(str(error.filename or 'I/O'))}: {_printable(str(error.strerror or error))}", file=sys.stderr)
        return 1
    except Exception as error:
        if os.environ.get("MONILOG_DEBUG"):
            raise
        print(f"{prog}: internal error: {type(error).__name__}: {_printable(str(error))}", file=sys.stderr)
        return 1


def _printable(text: str) -> str:
    """``text`` made safe for a terminal by :func:`monilog.presentation.sanitize.clean`, imported only
    when there is an error to print: ``--help`` and ``--version`` do without it."""
    from monilog.presentation.sanitize import clean

    return clean(text)
