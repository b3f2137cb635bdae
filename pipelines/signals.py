"""Stopping on SIGINT/SIGTERM: the first signal asks for a clean stop (tracks ended, events drained); if the
stop is still going after ``REPORT_SECONDS``, the log says what it waits on; a second signal stops at once."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

logger = logging.getLogger(__name__)
REPORT_SECONDS = 20.0
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def stop_on_signal() -> asyncio.Event:
    """An event set by the first SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def first(sig: signal.Signals) -> None:
        logger.info("%s: stopping (ending tracks, delivering events); send it again to stop at once", sig.name)
        stop.set()
        loop.call_later(REPORT_SECONDS, report_pending, loop)
        for again in SIGNALS:
            loop.add_signal_handler(again, second, again)

    for sig in SIGNALS:
        loop.add_signal_handler(sig, first, sig)
    return stop


def second(sig: signal.Signals) -> None:
    logger.warning("%s again: stopping at once; events not yet in Redis are lost", sig.name)
    logging.shutdown()
    os._exit(128 + sig)


def report_pending(loop: asyncio.AbstractEventLoop) -> None:
    """One log line per task the stop still waits on, with where it waits."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    logger.warning("still stopping after %.0f s; waiting on %d tasks:", REPORT_SECONDS, len(tasks))
    for task in tasks:
        logger.warning("  %s: %s", task.get_name(), " -> ".join(_awaits(task.get_coro())) or "not started")


def _awaits(coro) -> list[str]:
    """Where a suspended coroutine waits: its chain of awaits, outermost first."""
    chain = []
    while coro is not None and len(chain) < 12:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        chain.append(f"{frame.f_code.co_name} ({os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno})")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None) or getattr(coro, "gi_yieldfrom", None)
    return chain
