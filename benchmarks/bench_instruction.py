"""Instruction interpreter benchmark: accuracy on the evaluation sets and latency.

    python benchmarks/bench_instruction.py                      # built-in interpreter
    python benchmarks/bench_instruction.py --interpreter openai --llm-url http://127.0.0.1:8080/v1

Accuracy is exact match of operations (every field), commands and the
"not understood" flag (see retouch.interpret.evaluate). Latency is measured per
request: the first call in a fresh process (cold), then the best of
``--repeat`` calls per request (warm), reported as median / p95 / max in ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from retouch.interpret import get_interpreter  # noqa: E402
from retouch.interpret.evaluate import evaluate, load_cases  # noqa: E402

SETS = {"dev": ROOT / "tests/data/instructions.jsonl",
        "held-out": ROOT / "tests/data/instructions_heldout.jsonl"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--interpreter", default="builtin")
    ap.add_argument("--llm-url")
    ap.add_argument("--llm-model")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    ap.add_argument("--failures", action="store_true", help="list the failed cases")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    it = get_interpreter(args.interpreter, url=args.llm_url, model=args.llm_model)
    cases = {k: load_cases(v) for k, v in SETS.items()}
    first = cases["dev"][0]["text"]
    t1 = time.perf_counter()
    it.interpret(first)
    cold_ms = (time.perf_counter() - t1) * 1000.0
    setup_ms = (t1 - t0) * 1000.0

    out: dict = {"interpreter": args.interpreter, "cold_first_call_ms": round(cold_ms, 3),
                 "setup_ms": round(setup_ms, 1), "sets": {}}
    print(f"interpreter: {args.interpreter}; setup {setup_ms:.1f} ms; first call {cold_ms:.2f} ms")
    all_texts = []
    for name, cs in cases.items():
        res = evaluate(it, cs)
        r, n = res.out_of_scope
        by_tag = {t: f"{ok}/{tot}" for t, (ok, tot) in res.by_tag.items()}
        out["sets"][name] = {"cases": len(cs), "exact_match": round(res.accuracy, 4),
                             "out_of_scope_refused": [r, n], "by_tag": by_tag}
        print(f"{name:9s} {len(cs):4d} cases: exact match {100 * res.accuracy:.1f}%, "
              f"out-of-scope refused {r}/{n}")
        if args.failures:
            for c in res.failures:
                print(f"   FAIL {c.text!r}\n     want {c.expected}\n     got  {c.got}")
        all_texts += [c["text"] for c in cs]
    warm = []
    for text in all_texts:
        best = float("inf")
        for _ in range(max(1, args.repeat)):
            t = time.perf_counter()
            it.interpret(text)
            best = min(best, time.perf_counter() - t)
        warm.append(best * 1000.0)
    warm.sort()
    q = lambda p: warm[min(len(warm) - 1, int(p * len(warm)))]  # noqa: E731
    out["warm_ms"] = {"median": round(statistics.median(warm), 4), "p95": round(q(0.95), 4),
                      "max": round(warm[-1], 4), "requests": len(warm)}
    print(f"warm latency over {len(warm)} requests (best of {args.repeat}): median "
          f"{statistics.median(warm):.3f} ms, p95 {q(0.95):.3f} ms, max {warm[-1]:.3f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
