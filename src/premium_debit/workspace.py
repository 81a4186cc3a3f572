"""The working folder of SPEC §9 and the file operations on it: atomic writes (temporary file,
fsync, rename), content hashes, archive and quarantine. Raw inbound bytes are archived before
they are parsed; nothing under archive/ or quarantine/ is ever deleted."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tenacity import (
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from premium_debit.errors import TransientError
from premium_debit.logs import get_logger

# errno values of I/O hiccups on a shared folder worth another try; a missing file is not.
_TRANSIENT_ERRNOS = {4, 11, 16, 110, 116}  # EINTR, EAGAIN, EBUSY, ETIMEDOUT, ESTALE


# errno values where the machine, not the data, is at fault: the run stops (exit 75) and cron
# tries again once an operator has made room. Not retried within the run.
_ENVIRONMENT_ERRNOS = {5, 28, 30, 122}  # EIO, ENOSPC, EROFS, EDQUOT


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS


def _environment_error(path: Path, exc: OSError) -> TransientError:
    return TransientError(f"{path}: cannot write: {exc.strerror or exc} (nothing was changed)")


def _log_retry(state: object) -> None:
    get_logger().warning(
        "io_retry",
        attempt=getattr(state, "attempt_number", None),
        error=str(getattr(getattr(state, "outcome", None), "exception", lambda: None)()),
    )


io_retry = retry(
    retry=retry_if_exception(_is_transient),
    stop=stop_after_attempt(5),
    wait=wait_exponential(multiplier=0.1, max=2),
    before_sleep=_log_retry,
    reraise=True,
)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@io_retry
def read_bytes(path: Path) -> bytes:
    return path.read_bytes()


@io_retry
def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` holds either its old content or all of ``data``."""
    try:
        _write_atomic(path, data)
    except OSError as exc:
        if _is_transient(exc):
            raise TransientError(f"{path}: {exc.strerror} (gave up after retries)") from None
        if exc.errno in _ENVIRONMENT_ERRNOS:
            raise _environment_error(path, exc) from None
        raise


def _fsync_dir(folder: Path) -> None:
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class Staging:
    """Files written in two phases around a ledger commit.

    ``add`` writes each file's bytes to a hidden temporary file beside its target and fsyncs
    it; ``publish`` renames them into place. A failure before ``publish`` removes them all, so a
    disk-full error at any write changes nothing; a crash between the ledger commit and
    ``publish`` leaves only hidden temporary files (removed by ``sweep``) and missing request
    files (rendered again from the ledger).
    """

    PREFIX = ".staged-"

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []

    def add(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f"{self.PREFIX}{path.name}.", dir=path.parent)
        self._staged.append((Path(tmp), path))
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            if exc.errno in _ENVIRONMENT_ERRNOS:
                raise _environment_error(path, exc) from None
            raise

    def publish(self) -> None:
        folders = set()
        for tmp, path in self._staged:
            os.replace(tmp, path)
            folders.add(path.parent)
        for folder in sorted(folders):
            _fsync_dir(folder)
        self._staged = []

    def discard(self) -> None:
        for tmp, _ in self._staged:
            with suppress(FileNotFoundError):
                os.unlink(tmp)
        self._staged = []

    @staticmethod
    def sweep(root: Path, *, atomic_temps: bool = False) -> int:
        """Remove staged files a killed run left behind under ``root`` (and, with
        ``atomic_temps``, ``write_atomic``'s temporary files: only where no lock-free command
        such as ``report`` may be writing at the same time)."""
        n = 0
        patterns = [f"{Staging.PREFIX}*"] + ([".*.tmp"] if atomic_temps else [])
        for pattern in patterns:
            for tmp in root.rglob(pattern):
                tmp.unlink(missing_ok=True)
                n += 1
        return n


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def ledger_path(self) -> Path:
        return self.root / "ledger.sqlite"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def create(self) -> None:
        for p in (self.outbox, self.inbox, self.archive, self.quarantine, self.reports, self.logs):
            p.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def staging(self) -> Iterator[Staging]:
        """Stage files; they are published when the block ends without error."""
        staged = Staging()
        try:
            yield staged
        except BaseException:
            staged.discard()
            raise
        staged.publish()

    def outbox_file(self, bank_code: str, file_name: str) -> Path:
        return self.outbox / bank_code / file_name

    def archive_bytes(self, name: str, data: bytes, sha256: str) -> Path:
        """Keep the raw bytes of an input, named by content so nothing is overwritten; bytes
        already archived (under any name) are not archived again."""
        for existing in self.archive.glob(f"{sha256[:16]}_*"):
            return existing
        dest = self.archive / f"{sha256[:16]}_{Path(name).name}"
        write_atomic(dest, data)
        return dest

    def quarantine_bytes(self, name: str, data: bytes, reason: str) -> Path:
        """Keep a refused input and, beside it, why it was refused."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        dest = self.quarantine / f"{stamp}_{sha256_bytes(data)[:12]}_{Path(name).name}"
        write_atomic(dest, data)
        write_atomic(dest.with_name(dest.name + ".reason.txt"), (reason + "\n").encode("utf-8"))
        return dest
