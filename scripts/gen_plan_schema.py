"""Write docs/plan.schema.json from retouch.plan.Plan.json_schema().

    python scripts/gen_plan_schema.py           # (re)write the file
    python scripts/gen_plan_schema.py --check   # exit 1 if the file is out of date

tests/test_plan.py runs the check, so the published schema cannot drift from the code.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from retouch.plan import Plan  # noqa: E402

TARGET = ROOT / "docs" / "plan.schema.json"


def render() -> str:
    return json.dumps(Plan.json_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 when stale")
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is out of date; run python scripts/gen_plan_schema.py",
                  file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
