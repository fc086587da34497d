"""``retouch eval MODEL ...``: see :mod:`retouch.cli_models` (models and their options)."""

from __future__ import annotations

from .cli_models import run_model_command


def main(argv: list[str]) -> int:
    """Run ``retouch eval``; returns the exit code (see :mod:`retouch.cli`)."""
    return run_model_command("eval", argv)
