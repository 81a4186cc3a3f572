"""Reconcile's outputs: summary.json and the exception lists failed, review, unexpected,
refunds and overdue (SPEC §9). Rendering only: the caller hands in the frames."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from premium_debit.ledger.store import Ledger
from premium_debit.model.ids import mask_account
from premium_debit.model.money import yuan_expr
from premium_debit.pipeline.refunds import refund_rows
from premium_debit.reports import summary as S
from premium_debit.reports.conservation import (
    instruction_checks,
    instruction_figures,
    ledger_tally,
)
from premium_debit.reports.exceptions import write_exceptions


def _people(ledger: Ledger, period: int | None) -> pl.DataFrame:
    return people_of(ledger.residents(period))


def people_of(residents: pl.DataFrame) -> pl.DataFrame:
    """What an exception list shows of each resident."""
    return residents.select("person_id", "township", "village", "name", resident_state="state")


def overdue_instructions(
    ledger: Ledger, as_of: date, days: int, period: int | None
) -> pl.DataFrame:
    """Instructions awaiting a result more than ``days`` after their batch's business date:
    the raw rows (fen, full account), with ``bank_code`` and reason ``OVERDUE_RESULT``."""
    cutoff = (as_of - timedelta(days=days)).isoformat()
    instr = ledger.instructions(period=period, status="AWAITING")
    batches = ledger.batches(period).select("batch_id", "bank_code", "business_date")
    late = instr.join(batches, on="batch_id").filter(pl.col("business_date") < cutoff)
    return late.with_columns(reason_code=pl.lit("OVERDUE_RESULT"))


def overdue_rows(
    ledger: Ledger, as_of: date, days: int, period: int | None, people: pl.DataFrame | None = None
) -> pl.DataFrame:
    """overdue.csv's rows (SPEC §9: reason OVERDUE_RESULT, days from the batch's business date)."""
    late = overdue_instructions(ledger, as_of, days, period)
    if people is None:  # the residents are read only when something is overdue
        people = _people(ledger, period) if late.height else _people(ledger, -1)
    return exception_rows(late, people)


def exception_rows(frame: pl.DataFrame, people: pl.DataFrame) -> pl.DataFrame:
    """Instruction rows as an exception list: the resident's village and name, yuan text,
    masked account, sorted."""
    out = frame.join(people.drop("township"), on="person_id", how="left")
    extra = [
        c for c in ("source_file", "source_line", "state", "code", "debited") if c in out.columns
    ]
    return (
        out.select(
            "township",
            "village",
            "person_id",
            "name",
            "period",
            amount=yuan_expr(pl.col("amount_fen")),
            reason_code="reason_code",
            batch_id="batch_id",
            instruction_id="instruction_id",
            bank_code="bank_code",
            account_no_masked=mask_account(pl.col("account_no")),
        )
        .with_columns(out.select(extra))
        .sort("township", "person_id", "instruction_id")
    )


def write_reconcile_outputs(
    report_dir: Path,
    ledger: Ledger,
    files: list[Any],
    as_of: date,
    overdue_days: int,
    period: int,
    run_id: str,
    command: str = "reconcile",
) -> dict[str, Any]:
    """Write exception lists and summary.json of a reconcile run; return the summary."""
    accepted = [f for f in files if f.status == "accepted"]
    counted = ledger_tally(ledger, period)
    people = _people(ledger, period)
    outcome_frames = [
        f.instructions.with_columns(source_file=pl.lit(f.file), bank_code=pl.lit(f.bank_code))
        for f in accepted
    ]
    exc = report_dir / "exceptions"
    outcomes = (
        pl.concat(outcome_frames, how="vertical")
        if outcome_frames
        else pl.DataFrame(
            schema={
                "instruction_id": pl.String,
                "person_id": pl.String,
                "outcome": pl.String,
                "status": pl.String,
                "debited_fen": pl.Int64,
                "line": pl.Int64,
                "code": pl.String,
                "township": pl.String,
                "amount_fen": pl.Int64,
                "attempt": pl.Int64,
                "batch_id": pl.String,
                "account_no": pl.String,
                "period": pl.Int64,
                "source_file": pl.String,
                "bank_code": pl.String,
            }
        )
    )
    detail = outcomes.with_columns(
        reason_code="outcome", source_line="line", debited=yuan_expr(pl.col("debited_fen"))
    )
    failed = detail.filter(pl.col("status") == "FAILED").join(
        people.select("person_id", state="resident_state"), on="person_id", how="left"
    )
    write_exceptions(
        exc / "failed.csv",
        exception_rows(failed, people),
        extra=("state", "code", "source_file", "source_line"),
    )
    review = detail.filter(pl.col("status") == "REVIEW")
    write_exceptions(
        exc / "review.csv",
        exception_rows(review, people),
        extra=("code", "debited", "source_file", "source_line"),
    )
    unexpected = [
        f.rows.filter(pl.col("class") == "UNEXPECTED_RESULT").with_columns(
            source_file=pl.lit(f.file), bank_code=pl.lit(f.bank_code), batch_id=pl.lit(f.batch_id)
        )
        for f in accepted
    ]
    if unexpected:
        un = pl.concat(unexpected, how="vertical")
    else:
        un = pl.DataFrame(
            schema={
                "instruction_id": pl.String,
                "account_no": pl.String,
                "amount_fen": pl.Int64,
                "code": pl.String,
                "line": pl.Int64,
                "source_file": pl.String,
                "bank_code": pl.String,
                "batch_id": pl.String,
            }
        )
    write_exceptions(
        exc / "unexpected.csv",
        un.select(
            "instruction_id",
            "batch_id",
            "bank_code",
            "code",
            "source_file",
            amount=yuan_expr(pl.col("amount_fen")),
            reason_code=pl.lit("UNEXPECTED_RESULT"),
            account_no_masked=mask_account(pl.col("account_no")),
            source_line="line",
        ),
        extra=("code",),
    )
    refunds = refund_rows(ledger, period, run_id=run_id)
    if refunds.height:
        write_exceptions(exc / "refunds.csv", refunds, extra=("cause",))
    overdue = overdue_rows(ledger, as_of, overdue_days, period, people)
    write_exceptions(exc / "overdue.csv", overdue)

    by_outcome = S.figures_by(outcomes, "outcome")
    townships: dict[str, Any] = {}
    for name in sorted(outcomes["township"].unique().to_list()):
        townships[name] = {
            "outcomes": S.figures_by(outcomes.filter(pl.col("township") == name), "outcome")
        }
    banks: dict[str, Any] = {}
    for f in accepted:
        b = banks.setdefault(f.bank_code, {"batches": [], "outcomes": {}})
        b["batches"].append(f.batch_id)
    for code, bank in banks.items():
        bank["outcomes"] = S.figures_by(outcomes.filter(pl.col("bank_code") == code), "outcome")
        bank["instructed"] = S.figure(
            *counted.filter(pl.col("bank_code") == code)
            .select(pl.col("count").sum(), pl.col("amount_fen").sum())
            .row(0)
        )
    summary = {
        "command": command,
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "period": period,
        "outcomes": by_outcome,
        "unexpected": S.total(un),
        "townships": townships,
        "banks": banks,
        "instructions": instruction_figures(counted),
        "refunds": S.total(ledger.refunds(period).filter(pl.col("run_id") == run_id)),
        "overdue": {"count": overdue.height},
        "files": {
            "accepted": [f.file for f in files if f.status == "accepted"],
            "refused": [
                {"file": f.file, "reason": f.reason} for f in files if f.status == "refused"
            ],
            "replayed": [f.file for f in files if f.status == "replayed"],
        },
        "conservation": S.conservation(instruction_checks(counted)),
    }
    S.write_summary(report_dir / "summary.json", summary)
    return summary
