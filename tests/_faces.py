"""Where the shared test photos are: ``../shared/faces`` beside the checkout, or
``$RETOUCH_FACES``. A plain module (not ``conftest``) so any test file can import it."""

from __future__ import annotations

import os
from pathlib import Path

_DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "faces"
FACES = Path(os.environ.get("RETOUCH_FACES", _DEFAULT))
