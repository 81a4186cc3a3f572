"""One run at a time per work folder: an exclusive, non-blocking lock on ``<workdir>/.lock``.

The kernel releases a ``flock`` when its process dies, so a killed run never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from premium_debit.errors import LockHeld
from premium_debit.logs import get_logger


@contextmanager
def workdir_lock(workdir: Path) -> Iterator[None]:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
            raise LockHeld(f"{path}: another premium-debit run holds the lock ({holder})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        log = get_logger()
        log.info("lock_acquired", pid=os.getpid(), at=time.time())
        try:
            yield
        finally:
            log.info("lock_released", pid=os.getpid(), at=time.time())
    finally:
        os.close(fd)
