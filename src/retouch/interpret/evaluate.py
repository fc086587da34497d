"""Score an interpreter on an evaluation set of instructions with expected plans.

The set is JSON Lines, one case a line::

    {"id": 7, "text": "remove the acne on my chin", "tags": ["region"],
     "expect": {"operations": [{"action": "remove", "types": ["acne", "red_spot"],
                                "regions": ["chin"]}],
                "commands": [], "not_understood": false}}

A case is an **exact match** when the interpreter's operations equal the
expected ones (same order; every field compared after validation, strengths
included), its commands equal the expected commands, and it reports something
as not understood exactly when ``not_understood`` is true. Out-of-scope cases
(no expected operation, ``not_understood`` true) are also counted separately:
they pass only when nothing is applied and the text is reported.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..plan import Plan
from . import Interpreter


@dataclass(frozen=True)
class CaseResult:
    """One case: what was expected, what came out, and whether they match."""

    id: int
    text: str
    tags: tuple[str, ...]
    ok: bool
    expected: dict[str, Any]
    got: dict[str, Any]
    elapsed_ms: float


@dataclass(frozen=True)
class EvalResult:
    """Scores over a set (fractions in ``[0, 1]``, latency in milliseconds)."""

    cases: tuple[CaseResult, ...]
    by_tag: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return sum(c.ok for c in self.cases) / max(1, len(self.cases))

    @property
    def out_of_scope(self) -> tuple[int, int]:
        """(correctly refused, total) over cases with no expected operation."""
        oos = [c for c in self.cases if not c.expected["operations"]
               and not c.expected["commands"]]
        return sum(c.ok for c in oos), len(oos)

    @property
    def failures(self) -> list[CaseResult]:
        return [c for c in self.cases if not c.ok]

    def latency_ms(self, q: float = 0.5) -> float:
        xs = sorted(c.elapsed_ms for c in self.cases)
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else 0.0

    def summary(self) -> str:
        ok = sum(c.ok for c in self.cases)
        r, n = self.out_of_scope
        return (f"exact match {ok}/{len(self.cases)} ({100 * self.accuracy:.1f}%); "
                f"out-of-scope refused {r}/{n}; latency median {self.latency_ms(0.5):.2f} ms, "
                f"p95 {self.latency_ms(0.95):.2f} ms, max {self.latency_ms(1.0):.2f} ms")


def load_cases(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSON Lines evaluation set (blank lines and ``//`` comments skipped)."""
    cases = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            c = json.loads(line)
        except ValueError as exc:
            raise InvalidInputError(f"{path}:{n}: not valid JSON ({exc})") from None
        if "text" not in c or "expect" not in c:
            raise InvalidInputError(f"{path}:{n}: a case needs 'text' and 'expect'")
        cases.append(c)
    return cases


def _normal_ops(ops: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [op.to_dict() for op in Plan.from_dict({"operations": list(ops)}).operations]


def evaluate(interpreter: Interpreter, cases: Sequence[dict[str, Any]]) -> EvalResult:
    """Run ``interpreter`` on every case and compare (see the module docstring)."""
    results = []
    tags: Counter[str] = Counter()
    tag_ok: Counter[str] = Counter()
    for i, c in enumerate(cases):
        exp = c["expect"]
        want = {"operations": _normal_ops(exp.get("operations", [])),
                "commands": [dict(x) for x in exp.get("commands", [])],
                "not_understood": bool(exp.get("not_understood", False))}
        t0 = time.perf_counter()
        res = interpreter.interpret(c["text"])
        dt = (time.perf_counter() - t0) * 1000.0
        got = {"operations": [op.to_dict() for op in res.plan.operations],
               "commands": [cmd.to_dict() for cmd in res.commands],
               "not_understood": bool(res.plan.not_understood)}
        ok = got == want
        ctags = tuple(c.get("tags", ()))
        for t in ctags:
            tags[t] += 1
            tag_ok[t] += ok
        results.append(CaseResult(int(c.get("id", i + 1)), c["text"], ctags, ok, want, got, dt))
    return EvalResult(tuple(results), {t: (tag_ok[t], n) for t, n in sorted(tags.items())})
