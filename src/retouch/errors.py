"""Exception classes raised at the public boundary.

Every message is meant to be shown to a user as one line: it names the file or
parameter, what was expected, what was received and, where possible, the fix.
"""

from __future__ import annotations


class RetouchError(Exception):
    """Base class of every error ``retouch`` raises on purpose."""

    #: Process exit code the CLI uses for this error class.
    exit_code: int = 1


class InvalidInputError(RetouchError, ValueError):
    """The input image or a parameter is unusable (not an image, truncated, too large...)."""

    exit_code = 2


class OutputError(RetouchError, OSError):
    """The output cannot be written (missing folder, read-only, would overwrite the input)."""

    exit_code = 3


class MissingDependencyError(RetouchError, ImportError):
    """An optional or separately installed dependency is missing."""

    exit_code = 4
