"""The refund list (SPEC §9 refunds.csv, reason DOUBLE_PAYMENT): residents debited by us who
also paid another way, or debited twice."""

from __future__ import annotations

import polars as pl

from premium_debit.ledger.store import Ledger
from premium_debit.model.ids import mask_account
from premium_debit.model.money import yuan_expr


def refund_rows(ledger: Ledger, period: int, *, run_id: str | None = None) -> pl.DataFrame:
    """Refund candidates of ``period`` (only those found by ``run_id`` when given)."""
    refunds = ledger.refunds(period)
    if run_id is not None:
        refunds = refunds.filter(pl.col("run_id") == run_id)
    if refunds.height == 0:  # the usual case: no need to read the residents and instructions
        refunds = refunds.with_columns(
            township=pl.lit(None, pl.String),
            village=pl.lit(None, pl.String),
            name=pl.lit(None, pl.String),
            batch_id=pl.lit(None, pl.String),
            account_no=pl.lit(None, pl.String),
            bank_code=pl.lit(None, pl.String),
        )
        return _refund_list(refunds)
    residents = ledger.residents(period).select("person_id", "township", "village", "name")
    instr = ledger.instructions(period=period).select("instruction_id", "batch_id", "account_no")
    batches = ledger.batches(period).select("batch_id", "bank_code")
    return _refund_list(
        refunds.join(residents, on="person_id", how="left")
        .join(instr, on="instruction_id", how="left")
        .join(batches, on="batch_id", how="left")
    )


def _refund_list(joined: pl.DataFrame) -> pl.DataFrame:
    return joined.select(
        "township",
        "village",
        "person_id",
        "name",
        "period",
        amount=yuan_expr(pl.col("amount_fen")),
        reason_code=pl.lit("DOUBLE_PAYMENT"),
        cause="cause",
        batch_id="batch_id",
        instruction_id="instruction_id",
        bank_code="bank_code",
        account_no_masked=mask_account(pl.col("account_no")),
    ).sort("person_id", "instruction_id")
