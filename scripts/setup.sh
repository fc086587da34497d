#!/usr/bin/env bash
# Install retouch into ./.venv (or the active virtual environment).
#   bash scripts/setup.sh          # runtime only
#   bash scripts/setup.sh --dev    # + test and lint tools, the [serve], [batch] and [learn]
#                                  #   extras (torch CPU, onnx, onnxruntime), and Debian's
#                                  #   chromium for the browser tests
# mediapipe 0.10.21 (the last release that ships its face models) is installed with
# --no-deps: its metadata pins numpy<2, the GUI OpenCV build, jax and sounddevice, none
# of which the face models need. Its real runtime needs are retouch's own dependencies
# (pyproject.toml), so the environment stays on numpy 2 + opencv-python-headless.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VIRTUAL_ENV:-}" ]; then
  [ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
# No wheel cache: a fresh machine gains nothing from it, and it doubles what the
# install writes to disk (a CI run once failed with "No space left on device").
export PIP_NO_CACHE_DIR=1
python -m pip install -q --no-deps "mediapipe==0.10.21"
if [ "${1:-}" = "--dev" ]; then
  python -m pip install -q -e ".[dev,learn]"
  # Browser tests drive Debian's chromium with Playwright (never `playwright install`:
  # no browser downloads). Install it when missing and apt is usable; otherwise the
  # browser tests skip and say why.
  if [ ! -x /usr/bin/chromium ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
      echo "setup: installing Debian's chromium for the browser tests"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
        >/dev/null) || echo "setup: could not install chromium; browser tests will be skipped"
    else
      echo "setup: /usr/bin/chromium missing and apt-get unavailable (or not root);" \
           "browser tests will be skipped (install Debian's 'chromium' package to run them)"
    fi
  fi
else
  python -m pip install -q -e .
fi
python -c "import mediapipe, retouch; print('retouch', retouch.__version__, 'ready (mediapipe', mediapipe.__version__ + ')')"
