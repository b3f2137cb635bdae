"""Running the ``facetrack`` command as a user does."""

import subprocess
import sys
from pathlib import Path

FACETRACK = Path(sys.executable).parent / "facetrack"


def run(*args, config=None):
    command = [str(FACETRACK), *map(str, args)]
    if config:
        command += ["--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)
