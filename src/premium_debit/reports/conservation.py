"""SPEC §6.3 over all instructions: instructed = succeeded + failed + review + awaiting, per bank,
per township and in total, in count and fen. Each instruction's own outcome counts."""

from __future__ import annotations

from typing import Any

import polars as pl

from premium_debit.ledger.store import Ledger
from premium_debit.reports import summary as S

STATUSES = ("SUCCEEDED", "FAILED", "REVIEW", "AWAITING")


def instruction_frame(ledger: Ledger, period: int | None) -> pl.DataFrame:
    instr = ledger.instructions(period=period)
    banks = ledger.batches(period).select("batch_id", "bank_code")
    return instr.join(banks, on="batch_id", how="left")


def instruction_checks(frame: pl.DataFrame) -> list[dict[str, Any]]:
    name = "instructed = succeeded + failed + review + awaiting"
    checks = []
    scopes: list[tuple[str, pl.DataFrame]] = [("total", frame)]
    for key in ("bank_code", "township"):
        for value in sorted(frame[key].unique().to_list()):
            scopes.append(
                (f"{key.removesuffix('_code')}:{value}", frame.filter(pl.col(key) == value))
            )
    for scope, part in scopes:
        parts = [S.total(part.filter(pl.col("status") == s)) for s in STATUSES]
        checks.append(S.check(name, S.total(part), S.add(parts), scope))
    return checks


def instruction_figures(frame: pl.DataFrame) -> dict[str, Any]:
    return {s.lower(): S.total(frame.filter(pl.col("status") == s)) for s in STATUSES}
