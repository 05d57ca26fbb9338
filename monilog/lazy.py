"""Names of a package imported from their home modules on first use (PEP 562), for ``__getattr__``."""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # as typing's, which is not imported: the console scripts start faster without it
if TYPE_CHECKING:
    from typing import Any, Dict, MutableMapping


def load(package: str, homes: Dict[str, str], namespace: MutableMapping[str, Any], name: str) -> Any:
    """Import ``name`` from its home module (``homes[name]``), keep it in the package's
    ``namespace`` so the next use costs nothing, and return it.

    :raises AttributeError: for a name the package does not export.
    """
    home = homes.get(name)
    if home is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    namespace[name] = value
    return value
