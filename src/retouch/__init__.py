"""retouch: high-fidelity face retouching on the CPU.

>>> from retouch import retouch
>>> result = retouch("portrait.jpg")            # doctest: +SKIP
>>> result.image, result.report, result.masks   # doctest: +SKIP

Heavy modules (mediapipe, OpenCV) load on first use, not on ``import retouch``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    InvalidInputError,
    MissingDependencyError,
    OutputError,
    RetouchError,
)

if TYPE_CHECKING:  # pragma: no cover
    from .pipeline import RetouchPipeline, retouch
    from .plan import Operation, Plan
    from .runtime import tune_allocator
    from .session import Session
    from .types import RetouchResult

__all__ = [
    "InvalidInputError",
    "MissingDependencyError",
    "Operation",
    "OutputError",
    "Plan",
    "RetouchError",
    "RetouchPipeline",
    "RetouchResult",
    "Session",
    "__version__",
    "retouch",
    "tune_allocator",
]

_LAZY = {
    "retouch": ("pipeline", "retouch"),
    "tune_allocator": ("runtime", "tune_allocator"),
    "RetouchPipeline": ("pipeline", "RetouchPipeline"),
    "RetouchResult": ("types", "RetouchResult"),
    "Session": ("session", "Session"),
    "Plan": ("plan", "Plan"),
    "Operation": ("plan", "Operation"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{mod}", __name__), attr)
    raise AttributeError(f"module 'retouch' has no attribute {name!r}")
