#!/usr/bin/env bash
# Set up (with the test extra and the Debian packages of the RTSP tests) and run the whole
# test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
scripts/system_packages.sh
exec .venv/bin/python -m pytest "$@"
