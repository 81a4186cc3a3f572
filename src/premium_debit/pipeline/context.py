"""What every command run carries: configuration, work folder, business date, run id, clock."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from premium_debit.config import Config
from premium_debit.workspace import Workspace


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RunContext:
    cfg: Config
    as_of: date
    command: str
    run_id: str
    clock: Callable[[], datetime] = field(default=_utc_now)

    @classmethod
    def start(
        cls,
        cfg: Config,
        command: str,
        as_of: date,
        clock: Callable[[], datetime] = _utc_now,
    ) -> RunContext:
        now = clock()
        # Sorts in time order (to the millisecond); the random tail keeps concurrent runs apart.
        run_id = (
            f"{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}-{command}-{secrets.token_hex(2)}"
        )
        return cls(cfg=cfg, as_of=as_of, command=command, run_id=run_id, clock=clock)

    @property
    def ws(self) -> Workspace:
        return Workspace(self.cfg.workdir)

    @property
    def period(self) -> int:
        return self.cfg.campaign.period

    def now_iso(self) -> str:
        return self.clock().isoformat(timespec="seconds")

    @property
    def as_of_text(self) -> str:
        return self.as_of.isoformat()
