#!/usr/bin/env bash
# The whole test suite on a fresh machine: creates .venv, installs the pinned dependencies and
# the project, installs Debian's chromium for the browser test if it is missing (and apt is
# there), then runs pytest. Extra arguments go to pytest. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q -r requirements.lock -e .
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
    # best effort: without a browser the UI test skips and says why
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null; } \
        || echo "tests/run.sh: could not install chromium; the browser test will be skipped" >&2
fi
exec .venv/bin/python -m pytest "$@"
