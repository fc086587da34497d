"""Shared fixtures: the real photos of ../shared/faces (test data, never copied here)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from _faces import FACES


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    if not FACES.is_dir():
        pytest.skip(f"shared test photos not found at {FACES} (set RETOUCH_FACES to their folder)")
    return FACES


@pytest.fixture(scope="session")
def load_rgb(faces_dir):
    from PIL import Image

    def _load(rel: str) -> np.ndarray:
        return np.asarray(Image.open(faces_dir / rel).convert("RGB"))

    return _load


def pytest_sessionfinish(session, exitstatus) -> None:
    """Write the reliability suites' case outcomes to ``$RETOUCH_FUZZ_REPORT`` (JSON)."""
    target = os.environ.get("RETOUCH_FUZZ_REPORT")
    if not target:
        return
    try:
        from _harness import RECORDS
    except ImportError:
        return
    Path(target).write_text(json.dumps({"exitstatus": int(exitstatus), "cases": RECORDS},
                                       indent=1))
