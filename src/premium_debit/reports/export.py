"""``premium-debit export``: one row per resident and period known to the ledger (SPEC §8)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from premium_debit.ledger.store import Ledger
from premium_debit.model.money import yuan_expr
from premium_debit.reports.exceptions import neutralise
from premium_debit.workspace import write_atomic

EXPORT_COLUMNS = (
    "person_id",
    "period",
    "township",
    "state",
    "amount_due",
    "amount_collected",
    "attempts",
    "last_reason",
)


def export_frame(ledger: Ledger, period: int | None = None) -> pl.DataFrame:
    residents = ledger.residents(period)
    collected = (
        ledger.instructions(period=period, status="SUCCEEDED")
        .group_by("person_id", "period")
        .agg(collected_fen=pl.col("amount_fen").sum())
    )
    return (
        residents.join(collected, on=["person_id", "period"], how="left")
        .select(
            "person_id",
            "period",
            township=neutralise(pl.col("township")),
            state="state",
            amount_due=yuan_expr(pl.col("amount_due_fen")),
            amount_collected=yuan_expr(pl.col("collected_fen").fill_null(0)),
            attempts="attempts",
            last_reason="last_reason",
        )
        .sort("person_id", "period")
    )


def export_bytes(ledger: Ledger, period: int | None = None) -> bytes:
    body = export_frame(ledger, period).write_csv(line_terminator="\r\n")
    return b"\xef\xbb\xbf" + body.encode("utf-8")


def write_export(ledger: Ledger, out: Path, period: int | None = None) -> int:
    frame_bytes = export_bytes(ledger, period)
    write_atomic(out, frame_bytes)
    return frame_bytes.count(b"\r\n") - 1
