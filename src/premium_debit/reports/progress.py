"""A one-line progress display for long steps, on a terminal only.

``with progress("rendering report", total=n) as p: ... p.advance()`` shows, on stderr and only
when stderr is a TTY, a spinner (or a count and percentage when ``total`` is known) once the
step has run longer than ``delay`` seconds; a short step shows nothing. Under cron (stderr not a
TTY) it writes nothing at all, so logs stay clean. No dependency beyond the standard library.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

_SPINNER = "|/-\\"


class Progress:
    """The handle a step uses to say how far it got; thread-safe, cheap to call often."""

    def __init__(self, label: str, total: int | None) -> None:
        self.label = label
        self.total = total
        self._done = 0
        self._lock = threading.Lock()

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self._done += n

    def update(self, done: int) -> None:
        with self._lock:
            self._done = done

    @property
    def done(self) -> int:
        with self._lock:
            return self._done

    def line(self, tick: int, seconds: float) -> str:
        """The text shown at spinner position ``tick`` after ``seconds``."""
        done = self.done
        if self.total:
            pct = min(100.0, 100.0 * done / self.total)
            return f"{self.label} {done:,}/{self.total:,} ({pct:.0f}%) {seconds:.0f}s"
        count = f" {done:,}" if done else ""
        return f"{self.label} {_SPINNER[tick % len(_SPINNER)]}{count} {seconds:.0f}s"


@contextmanager
def progress(
    label: str,
    total: int | None = None,
    *,
    stream: TextIO | None = None,
    delay: float = 1.0,
    interval: float = 0.2,
) -> Iterator[Progress]:
    """Show ``label``'s progress on ``stream`` (default stderr) while the block runs, if the
    stream is a TTY and the block lasts longer than ``delay`` seconds."""
    out = sys.stderr if stream is None else stream
    handle = Progress(label, total)
    if not _is_tty(out):
        yield handle
        return
    stop = threading.Event()
    shown = threading.Event()
    started = time.monotonic()

    def run() -> None:
        if stop.wait(delay):
            return
        tick = 0
        while True:
            text = handle.line(tick, time.monotonic() - started)
            out.write("\r" + text + "\x1b[K")
            out.flush()
            shown.set()
            tick += 1
            if stop.wait(interval):
                return

    worker = threading.Thread(target=run, name=f"progress:{label}", daemon=True)
    worker.start()
    try:
        yield handle
    finally:
        stop.set()
        worker.join()
        if shown.is_set():
            out.write(f"\r{label} done in {time.monotonic() - started:.1f}s\x1b[K\n")
            out.flush()


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or fake stream is not a terminal
        return False
