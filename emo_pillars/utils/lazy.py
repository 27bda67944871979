"""Lazy public names for a package's ``__init__`` (PEP 562), so importing it stays light.

Examples:
    >>> __getattr__ = lazy_getattr(__name__, {"EmoPillarsClassifier": ".modeling.classifier"}, globals())  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, table: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``table[name]`` (a module relative to ``package``) on first access.

    The value is stored in ``namespace`` (the package's globals), so the import happens once.
    """

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module protocol's name
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    return __getattr__
