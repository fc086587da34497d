#!/usr/bin/env bash
# Set up (with test tools) and run the whole test suite. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
if [ -z "${VIRTUAL_ENV:-}" ]; then
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi
export GLOG_minloglevel=2 TF_CPP_MIN_LOG_LEVEL=3
python -m pytest -q "$@"
