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
            if _ends_mid_line(self.path):  # a run killed while writing a line: end it
                self._f.write("\n")
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


def _ends_mid_line(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            if f.seek(0, os.SEEK_END) == 0:
                return False
            f.seek(-1, os.SEEK_END)
            return f.read(1) != b"\n"
    except OSError:
        return False


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """Every complete line of a batch log, parsed (a line cut short by a killed run,
    which is not valid JSON, is left out)."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
    return out
