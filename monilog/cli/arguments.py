"""What the console scripts share: one-line usage errors and checked numeric arguments."""

from __future__ import annotations

import argparse
import math
from typing import Callable, NoReturn

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


def count(what: str) -> Callable[[str], int]:
    """An argparse type: a whole number of at least 1."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a whole number, not {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{what} must be at least 1, not {value}")
        return value

    return convert
