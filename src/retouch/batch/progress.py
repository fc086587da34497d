"""A progress bar with rate and ETA, on a terminal or as periodic lines in a log."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from .job import FileResult


def format_duration(seconds: float) -> str:
    """``1:02:03`` / ``2:03`` style."""
    s = int(round(max(0.0, seconds)))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@dataclass
class Progress:
    """Counts results and draws ``37/120 [=====>   ] 31% 1.8 img/s ETA 0:46 ...``.

    On a terminal the line is redrawn in place; otherwise a line is printed
    every ``interval_s`` seconds (and at the end), so logs stay readable.
    """

    total: int
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    enabled: bool = True
    interval_s: float = 10.0
    width: int = 24
    counts: dict[str, int] = field(default_factory=lambda: {"ok": 0, "skipped": 0, "failed": 0})
    _t0: float = field(default_factory=time.perf_counter)
    _last: float = 0.0
    _tty: bool = False

    def __post_init__(self) -> None:
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def eta_s(self) -> float | None:
        """Seconds left at the rate of the files processed so far (skipped files take
        no time); ``None`` before the first processed file."""
        processed = self.counts["ok"] + self.counts["failed"]
        if self.done == self.total:
            return 0.0
        if processed == 0:
            return None
        elapsed = time.perf_counter() - self._t0
        return elapsed / processed * (self.total - self.done)

    def line(self) -> str:
        """The current progress line."""
        n, total = self.done, max(self.total, 1)
        frac = n / total
        fill = int(frac * self.width)
        bar = "=" * fill + (">" if fill < self.width else "") + " " * (self.width - fill - 1)
        elapsed = time.perf_counter() - self._t0
        processed = self.counts["ok"] + self.counts["failed"]
        rate = processed / elapsed if elapsed > 0 else 0.0
        eta = self.eta_s()
        c = self.counts
        return (f"{n}/{self.total} [{bar[:self.width]}] {frac * 100:3.0f}% "
                f"{rate:.2f} img/s  ETA {format_duration(eta) if eta is not None else '?'}  "
                f"ok {c['ok']}  skipped {c['skipped']}  failed {c['failed']}")

    def update(self, result: FileResult) -> None:
        """Count one result and redraw if it is time to."""
        self.counts[result.status] += 1
        if not self.enabled:
            return
        now = time.perf_counter()
        if self._tty:
            if now - self._last >= 0.1 or self.done == self.total:
                self.stream.write("\r\x1b[2K" + self.line())
                self.stream.flush()
                self._last = now
        elif now - self._last >= self.interval_s or self.done == self.total:
            self.stream.write(self.line() + "\n")
            self.stream.flush()
            self._last = now

    def close(self) -> None:
        """End the redrawn line (terminal only)."""
        if self.enabled and self._tty:
            self.stream.write("\n")
            self.stream.flush()
