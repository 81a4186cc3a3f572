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


def tally(frame: pl.DataFrame) -> pl.DataFrame:
    """Instructions counted by bank, township and status (count and fen)."""
    return frame.group_by("bank_code", "township", "status").agg(
        count=pl.len(), amount_fen=pl.col("amount_fen").sum()
    )


def ledger_tally(ledger: Ledger, period: int | None) -> pl.DataFrame:
    """The same tally computed inside the ledger: a few rows, whatever the campaign's size."""
    return ledger.instruction_tally(period)


def _figure(part: pl.DataFrame) -> dict[str, int]:
    return S.figure(int(part["count"].sum()), int(part["amount_fen"].sum()))


def instruction_checks(counted: pl.DataFrame) -> list[dict[str, Any]]:
    """The identity per bank, per township and in total, from a ``tally``: every instruction
    (left) is in exactly one of the four outcomes (right)."""
    name = "instructed = succeeded + failed + review + awaiting"
    checks = []
    scopes: list[tuple[str, pl.DataFrame]] = [("total", counted)]
    for key in ("bank_code", "township"):
        for value in sorted(counted[key].unique().to_list()):
            scopes.append(
                (f"{key.removesuffix('_code')}:{value}", counted.filter(pl.col(key) == value))
            )
    for scope, part in scopes:
        parts = [_figure(part.filter(pl.col("status") == s)) for s in STATUSES]
        checks.append(S.check(name, _figure(part), S.add(parts), scope))
    return checks


def instruction_figures(counted: pl.DataFrame) -> dict[str, Any]:
    return {s.lower(): _figure(counted.filter(pl.col("status") == s)) for s in STATUSES}
