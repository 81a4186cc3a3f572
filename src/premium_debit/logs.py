"""The one structlog configuration: JSON lines under ``<workdir>/logs/``, readable console
output on a terminal, the run id bound to every event, and a processor that masks resident IDs
and account numbers wherever they appear in an event."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import structlog

# An 18-character resident ID, or a 16–19 digit account/card number, standing alone.
_ID_RE = re.compile(r"(?<![0-9A-Za-z])([0-9]{6})[0-9]{7,8}([0-9]{3}[0-9Xx])(?![0-9A-Za-z])")
_ACCOUNT_RE = re.compile(r"(?<![0-9A-Za-z])([0-9]{6})[0-9]{6,9}([0-9]{4})(?![0-9A-Za-z])")


def mask_text(text: str) -> str:
    """Keep the first 6 and last 4 characters of any ID or account number inside ``text``."""
    text = _ID_RE.sub(lambda m: m.group(1) + "*" * (len(m.group(0)) - 10) + m.group(2), text)
    return _ACCOUNT_RE.sub(lambda m: m.group(1) + "*" * (len(m.group(0)) - 10) + m.group(2), text)


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value


def mask_pii(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: no full resident ID or account number leaves the process."""
    for key in list(event_dict):
        event_dict[key] = _mask(event_dict[key])
    return event_dict


class _Sinks:
    """Final processor: one JSON line to the log file, a readable line on a terminal."""

    def __init__(self, file: Path | None, console: TextIO | None) -> None:
        self.file = file
        self.console = console
        self._pretty = structlog.dev.ConsoleRenderer(colors=False)

    def __call__(self, logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> str:
        if self.file is not None:
            line = json.dumps(event_dict, ensure_ascii=False, default=str)
            with self.file.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        if self.console is not None:
            shown = {k: v for k, v in event_dict.items() if k not in ("timestamp", "run_id")}
            self.console.write(str(self._pretty(logger, method, shown)) + "\n")
        raise structlog.DropEvent


def configure(log_dir: Path | None, *, console: bool | None = None, debug: bool = False) -> None:
    """Configure logging once, at the CLI edge. ``console=None`` means: only on a terminal."""
    file = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        file = log_dir / f"premium-debit-{datetime.now(UTC):%Y%m%d}.jsonl"
    show = sys.stderr.isatty() if console is None else console
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            mask_pii,
            _Sinks(file, sys.stderr if show else None),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(10 if debug else 20),
        cache_logger_on_first_use=False,
    )


def bind_run(run_id: str, command: str) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(run_id=run_id, command=command)


def _drop(_logger: Any, _method: str, _event: MutableMapping[str, Any]) -> str:
    raise structlog.DropEvent


def get_logger() -> Any:
    """The library's logger. Until the CLI configures logging, events are dropped: the library
    never prints (structlog's default would print to stdout)."""
    if not structlog.is_configured():
        structlog.configure(processors=[_drop], cache_logger_on_first_use=False)
    return structlog.get_logger()
