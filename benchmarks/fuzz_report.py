"""Run the reliability suites and summarize every case they ran.

    python benchmarks/fuzz_report.py                 # long run (RETOUCH_FUZZ=full), ~30-60 min
    python benchmarks/fuzz_report.py --quick         # the bounded version in the test command
    python benchmarks/fuzz_report.py --out docs/fuzz_summary.json

Runs ``pytest -m fuzz`` (tests/test_fuzz_inputs.py, test_geometry.py,
test_data_safety.py, test_determinism.py) with ``RETOUCH_FUZZ_REPORT`` set, so
each case's outcome is recorded by tests/conftest.py, then writes:

* ``bench_out/fuzz_cases.json``: every case (suite, id, kind, status, seconds,
  peak RSS, first stderr line);
* ``--out`` (default ``bench_out/fuzz_summary.json``): counts per suite and
  status, per kind for the default command, slowest case, largest peak RSS,
  and pytest's pass/fail counts and wall time;

and prints the summary as Markdown tables (pasted into docs/reliability.md).
Statuses: ``ok`` (success), ``errorN`` (clean failure with exit code N, or
``error`` for a RetouchError in-process), ``VIOLATION`` (contract broken:
the test fails too), or a suite-specific word (kill outcomes, session replies).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Suites whose cases are not corpus files (left out of the per-kind table).
NOT_CORPUS = {"cli-generated", "cli-options", "cli-bomb"}
SUITES = ["tests/test_fuzz_inputs.py", "tests/test_geometry.py", "tests/test_data_safety.py",
          "tests/test_determinism.py"]


def summarize(cases: list[dict], pytest_tail: str, wall_s: float, full: bool) -> dict:
    """Counts per suite/status and per kind, extremes, and pytest's own verdict."""
    by_suite: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for c in cases:
        by_suite[c["suite"]][c["status"]] += 1
        if c["suite"] == "api-corpus" or (c["suite"].startswith("cli-")
                                          and c["suite"] not in NOT_CORPUS):
            by_kind[c["kind"]][c["status"]] += 1
    timed = [c for c in cases if c["suite"].startswith("cli-")]
    slowest = max(timed, key=lambda c: c["seconds"], default=None)
    biggest = max(timed, key=lambda c: c["max_rss_mb"], default=None)
    m = re.findall(r"(\d+) (passed|failed|skipped|errors?)", pytest_tail)
    return {
        "mode": "full" if full else "quick",
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
                   f"{platform.python_version()}",
        "wall_s": round(wall_s, 1),
        "pytest": {k: int(v) for v, k in m},
        "cases_total": len(cases),
        "violations": sum(c["status"] == "VIOLATION" for c in cases),
        "by_suite": {k: dict(v) for k, v in sorted(by_suite.items())},
        "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
        "slowest_cli_case": slowest and {k: slowest[k] for k in ("suite", "case", "seconds")},
        "largest_cli_rss": biggest and {k: biggest[k] for k in ("suite", "case", "max_rss_mb")},
    }


def markdown(s: dict) -> str:
    """The summary as Markdown tables."""
    lines = [f"Mode **{s['mode']}**, {s['date']}, {s['machine']}: {s['cases_total']} cases in "
             f"{s['wall_s']:.0f} s, {s['violations']} contract violations; pytest "
             + ", ".join(f"{v} {k}" for k, v in s["pytest"].items()) + ".", "",
             "| suite | cases | outcomes |", "| --- | --- | --- |"]
    for suite, counts in s["by_suite"].items():
        out = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        lines.append(f"| {suite} | {sum(counts.values())} | {out} |")
    lines += ["", "| kind (corpus, API + CLI) | cases | outcomes |", "| --- | --- | --- |"]
    for kind, counts in s["by_kind"].items():
        out = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        lines.append(f"| {kind} | {sum(counts.values())} | {out} |")
    if s["slowest_cli_case"]:
        sc, br = s["slowest_cli_case"], s["largest_cli_rss"]
        lines += ["", f"Slowest CLI case: {sc['case']} ({sc['suite']}), {sc['seconds']} s. "
                  f"Largest peak RSS: {br['case']} ({br['suite']}), {br['max_rss_mb']} MB."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the bounded run of the test command")
    ap.add_argument("--out", type=Path, default=ROOT / "bench_out" / "fuzz_summary.json")
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = ap.parse_args()
    (ROOT / "bench_out").mkdir(exist_ok=True)
    cases_path = ROOT / "bench_out" / "fuzz_cases.json"
    env = dict(os.environ, RETOUCH_FUZZ_REPORT=str(cases_path), GLOG_minloglevel="2",
               TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    if args.quick:
        env.pop("RETOUCH_FUZZ", None)
    else:
        env["RETOUCH_FUZZ"] = "full"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *SUITES, *args.pytest_args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    cases = json.loads(cases_path.read_text())["cases"] if cases_path.exists() else []
    summary = summarize(cases, tail, wall, not args.quick)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(markdown(summary))
    if proc.returncode:
        fails = [ln for ln in proc.stdout.splitlines() if ln.startswith(("FAILED", "ERROR"))]
        print("\n".join(["", "pytest failures:", *fails[:50]]))
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
