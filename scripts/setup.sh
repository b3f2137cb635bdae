#!/usr/bin/env bash
# Set up facetrack in .venv/ at the repository root: `scripts/setup.sh` for the tool,
# `scripts/setup.sh test` for the tool and its test dependencies, `scripts/setup.sh bench`
# for the benchmark's peers (face_recognition, dlib-bin). Safe to run again: it
# reinstalls only when pyproject.toml changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."

extra=${1:-}
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "facetrack needs Python 3.11 (found $("$python" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "creating .venv/"
    "$python" -m venv .venv
fi
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
stamp=".venv/.installed-${extra:-base}"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "installing facetrack${extra:+ with the $extra extra} into .venv/ (the first time takes a few minutes)"
    .venv/bin/python -m pip install -qq --upgrade 'pip>=24' 'setuptools<81' wheel
    .venv/bin/python -m pip install -qq --editable ".${extra:+[$extra]}"
    if [ "$extra" = bench ]; then  # the face_recognition peer: its own deps would build dlib from source
        .venv/bin/python -m pip install -qq --no-deps face_recognition==1.3.0
    fi
    echo "$want" > "$stamp"
    echo "$want" > .venv/.installed-base  # an extra includes the base install
fi
