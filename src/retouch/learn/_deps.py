"""Optional dependencies of :mod:`retouch.learn`, checked once and named at call time.

The core of ``retouch`` never imports torch: everything under ``retouch.learn``
that needs it calls :func:`require_torch` first, which raises a
:class:`~retouch.errors.MissingDependencyError` (CLI exit code 4) naming the
extra to install.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType

from ..errors import MissingDependencyError

#: The install command printed when torch (or another ``learn`` package) is missing.
INSTALL_HINT = "pip install 'retouch[learn]'"


def is_available(module: str) -> bool:
    """Whether ``module`` can be imported (checked without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, what: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``what`` needs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{what} needs the Python package {module.split('.')[0]!r}, which is not "
            f"installed ({exc}); install it with: {INSTALL_HINT}"
        ) from None


def require_torch(what: str = "the learned retoucher (retouch.learn)") -> ModuleType:
    """Return the ``torch`` module or raise :class:`MissingDependencyError`."""
    return require("torch", what)
