"""A last line behind pytest-timeout: a test that outlives its timeout by a grace period
ends the run, with every thread's stack on stderr.

pytest-timeout's signal method raises inside the test, so the test can clean up. But the
clean-up itself is not timed: an event loop cancelling a task that never finishes, or a
child process that never exits, would hold the run until CI kills it without a word. This
watchdog makes such a hang a failed run that says where it hung. Enabled from the root
`conftest.py`; `SALUR_TEST_BACKSTOP_GRACE` sets the grace in seconds (default 120).
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

DEFAULT_GRACE_SECONDS = 120.0
EXIT_STATUS = 3


def limit_of(item: pytest.Item) -> float | None:
    """The test's pytest-timeout limit in seconds (marker, else ini), or None when unset."""
    marker = item.get_closest_marker("timeout")
    if marker is not None:
        value = marker.args[0] if marker.args else marker.kwargs.get("timeout")
    else:
        try:
            value = item.config.getini("timeout")
        except ValueError:  # pytest-timeout not installed
            return None
    seconds = float(value) if value not in (None, "") else 0.0
    return seconds if seconds > 0 else None


def children_of(pid: int) -> list[int]:
    """Direct child processes of `pid` (from /proc; empty where there is none)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _printed(item: pytest.Item) -> list[tuple[str, str]]:
    """What the test printed so far, per phase, and the real stderr back (suspends capture)."""
    sections = [(f"{when} {key}", text) for when, key, text in item._report_sections]
    capture = item.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.suspend_global_capture(in_=True)
        out, err = capture.read_global_capture()
        sections += [("now stdout", out), ("now stderr", err)]
    return [(name, text) for name, text in sections if text]


def _abort(item: pytest.Item, seconds: float) -> None:
    printed = _printed(item)
    stream = sys.stderr
    stream.write(
        f"\n[backstop] {item.nodeid} is still running {seconds:.0f}s after it started, past its "
        "timeout and a grace period: its clean-up, or a call the timeout could not interrupt, "
        "hangs. What it printed and every thread's stack follow; the run ends here.\n"
    )
    for name, text in printed:
        stream.write(f"[backstop] captured {name}:\n{text[-20000:]}\n")
    stream.flush()
    faulthandler.dump_traceback(file=stream, all_threads=True)
    for child in children_of(os.getpid()):
        with contextlib.suppress(OSError):
            os.kill(child, signal.SIGKILL)
    stream.flush()
    os._exit(EXIT_STATUS)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    limit = limit_of(item)
    if limit is None:
        yield
        return
    grace = float(os.environ.get("SALUR_TEST_BACKSTOP_GRACE", DEFAULT_GRACE_SECONDS))
    timer = threading.Timer(limit + grace, _abort, args=(item, limit + grace))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
