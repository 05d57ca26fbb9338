"""Importing the packages of optional extras, with the install command in the error."""

from __future__ import annotations

import importlib
from types import ModuleType


def optional_module(name: str, package: str, extra: str) -> ModuleType:
    """Import ``name``; :class:`ImportError` saying ``pip install 'monilog[extra]'`` when it is missing."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ImportError(f"{package} is not installed: pip install 'monilog[{extra}]'") from None
