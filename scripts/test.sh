#!/usr/bin/env bash
# Set up (with the test extra and the Debian packages of the RTSP tests), pass the gates (the
# linter on the whole tree, the type checker on tracker/ and gallery/: pyproject.toml configures
# both) and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
scripts/system_packages.sh
echo "ruff (the linter):"
.venv/bin/ruff check .
echo "mypy (the type checker):"
.venv/bin/mypy
exec .venv/bin/python -m pytest --durations=25 "$@"
