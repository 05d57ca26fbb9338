"""Names of a package imported from their home modules on first use (PEP 562), for ``__getattr__``."""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # as typing's, which is not imported: the console scripts start faster without it
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, MutableMapping, Sequence, Tuple


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


def lazy_names(package: str, homes: Dict[str, str], names: Sequence[str],
               namespace: MutableMapping[str, Any]) -> Tuple[Callable[[str], Any], Callable[[], List[str]]]:
    """A package's module ``__getattr__`` and ``__dir__``: ``homes`` say where each name lives,
    ``names`` are its ``__all__``, ``namespace`` its ``globals()``.

    ``__getattr__, __dir__ = lazy_names(__name__, _HOMES, __all__, globals())``
    """

    def __getattr__(name: str) -> Any:
        """Import a public name from its home on first use."""
        return load(package, homes, namespace, name)

    def __dir__() -> List[str]:
        return list(names)

    return __getattr__, __dir__
