"""Stopping: a stop that does not finish says in the log what it waits on, and a second signal ends it at once."""

import signal
import subprocess
import sys

STUCK = """
import asyncio, logging, sys
from pipelines import signals
signals.REPORT_SECONDS = 0.5
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")

async def hand_over():
    await asyncio.Event().wait()  # a stop that never finishes

async def main():
    stop = signals.stop_on_signal()
    print("ready", flush=True)
    await stop.wait()
    await asyncio.create_task(hand_over(), name="cluster")

asyncio.run(main())
"""


def test_a_stuck_stop_says_what_it_waits_on_and_a_second_signal_ends_it():
    with subprocess.Popen([sys.executable, "-c", STUCK], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as process:
        try:
            code, log, still_running = _signal_twice(process)
        finally:
            process.kill()  # a failed check leaves no stuck process behind
    assert still_running  # one signal: still stopping cleanly
    assert code == 128 + signal.SIGTERM
    assert "send it again to stop at once" in log and "SIGTERM again: stopping at once" in log


def _signal_twice(process: subprocess.Popen) -> tuple[int, str, bool]:
    assert process.stdout.readline() == "ready\n"
    process.send_signal(signal.SIGTERM)
    lines = []
    while not any("cluster: hand_over" in line for line in lines):  # the task's name and where it waits
        line = process.stderr.readline()
        assert line, f"ended without saying what it waits on: {lines}"
        lines.append(line)
    still_running = process.poll() is None
    process.send_signal(signal.SIGTERM)
    code = process.wait(10)
    return code, "".join(lines) + process.stderr.read(), still_running
