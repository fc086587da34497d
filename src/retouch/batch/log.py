"""The JSON-lines log of a batch: one line per file, plus a start and a summary line."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import OutputError


@dataclass
class JsonlLog:
    """Appends one JSON object per line to ``path`` (flushed after each line, so
    a killed run keeps every line written so far). Lines carry an ``event``:
    ``"start"``, ``"file"`` (a :class:`~retouch.batch.job.FileResult`) or ``"summary"``."""

    path: Path
    _f: IO[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write the batch log ({exc.strerror})") \
                from None

    def write(self, event: str, record: dict[str, Any]) -> None:
        """Append ``{"event": event, "time": ..., **record}``."""
        if self._f is None:
            raise OutputError(f"{self.path}: the batch log is closed")
        line = {"event": event, "time": round(time.time(), 3), **record}
        self._f.write(json.dumps(line, ensure_ascii=False) + "\n")
        self._f.flush()

    def close(self) -> None:
        if self._f is not None:
            os.fsync(self._f.fileno())
            self._f.close()
            self._f = None


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """Every line of a batch log, parsed."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
