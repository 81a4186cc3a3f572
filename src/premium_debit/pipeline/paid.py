"""Paid-elsewhere lists (SPEC §2.3): who paid another way, and what that changes.

A resident who paid elsewhere is never instructed again for that period. The first payment
decides the state: a resident already COLLECTED stays so and the later payment is a double
payment for the refund list; anyone else becomes PAID_ELSEWHERE (an instruction still awaiting
its result keeps awaiting it; if it then succeeds, that success is the refund).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from premium_debit.config import Config
from premium_debit.ledger.store import Ledger, LedgerWriter
from premium_debit.model.ids import normalise_person_id, person_id_valid
from premium_debit.model.money import fen_expr
from premium_debit.pipeline.context import RunContext

# States that a paid-elsewhere record moves to PAID_ELSEWHERE; COLLECTED is a refund instead.
PAID_MOVES = ["AWAITING_RESULT", "RETRY_PENDING", "FAILED", "REVIEW", "EXCLUDED", "REJECTED"]


# The successes ``paid_effects`` needs when nobody paid elsewhere: none.
NO_SUCCESSES = pl.DataFrame(
    schema={"person_id": pl.String, "instruction_id": pl.String, "amount_fen": pl.Int64}
)


def validate_paid(paid: pl.DataFrame, cfg: Config, as_of: date) -> pl.DataFrame:
    """Add ``pid``, ``amount_fen`` and ``reason`` (null = a usable paid record)."""
    frame = paid.with_columns(
        pid=normalise_person_id(pl.col("person_id")),
        amount_fen=fen_expr(pl.col("amount")),
        paid_date=pl.col("paid_at").str.strptime(pl.Date, "%Y-%m-%d", strict=False),
    )
    reason = (
        pl.when(~person_id_valid(pl.col("pid"), as_of))
        .then(pl.lit("INVALID_PERSON_ID"))
        .when(pl.col("amount_fen").is_null())
        .then(pl.lit("INVALID_AMOUNT"))
        .when((pl.col("period") != str(cfg.campaign.period)).fill_null(True))
        .then(pl.lit("PERIOD_MISMATCH"))
        .when(pl.col("paid_date").is_null() | (pl.col("paid_date") > as_of))
        .then(pl.lit("INVALID_PAID_DATE"))
        .otherwise(None)
    )
    return frame.with_columns(
        reason=reason,
        channel=pl.col("channel").fill_null(""),
        amount_fen=pl.col("amount_fen").fill_null(0),
    ).drop("paid_date")


def payment_rows(valid: pl.DataFrame, period: int, run_id: str) -> pl.DataFrame:
    """Ledger rows of the usable paid records."""
    return valid.filter(pl.col("reason").is_null()).select(
        person_id="pid",
        period=pl.lit(period, pl.Int64),
        amount_fen="amount_fen",
        channel="channel",
        paid_at="paid_at",
        file_sha256="file_sha256",
        source_line="source_line",
        run_id=pl.lit(run_id),
    )


def paid_effects(
    residents: pl.DataFrame, paid_valid: pl.DataFrame, instructions: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(residents moving to PAID_ELSEWHERE, double payments found).

    ``residents``: ledger rows of the period; ``paid_valid``: usable paid records with ``pid``,
    ``file_sha256``, ``source_line``; ``instructions``: the period's SUCCEEDED instructions.
    """
    first_paid = paid_valid.filter(pl.col("reason").is_null()).unique(
        "pid", keep="first", maintain_order=True
    )
    hit = residents.join(first_paid, left_on="person_id", right_on="pid", how="inner")
    moving = hit.filter(pl.col("state").is_in(PAID_MOVES))
    double = first_paid.join(
        instructions.select("person_id", "instruction_id", "amount_fen"),
        left_on="pid",
        right_on="person_id",
        how="inner",
        suffix="_debited",
    )
    return moving, double


def run_paid(
    ctx: RunContext, ledger: Ledger, paths: Sequence[Path], *, report_dir: Path | None = None
) -> dict[str, Any]:
    """``premium-debit paid FILE...``: record paid-elsewhere lists on their own."""
    from premium_debit.pipeline.inputs import concat_frames, read_inputs
    from premium_debit.pipeline.refunds import refund_rows
    from premium_debit.reports import summary as S
    from premium_debit.reports.exceptions import write_exceptions

    files = read_inputs([(p, "paid") for p in paths])
    paid = validate_paid(concat_frames(files, "paid"), ctx.cfg, ctx.as_of)
    moving, double = paid_effects(
        ledger.residents(ctx.period),
        paid,
        ledger.instructions(period=ctx.period, status="SUCCEEDED"),
    )
    now = ctx.now_iso()
    rows = payment_rows(paid, ctx.period, ctx.run_id)
    with ledger.write() as w:
        w.add_run(ctx.run_id, ctx.command, ctx.as_of_text, now)
        for f in files:
            w.add_file(
                f.sha256,
                f.name,
                "paid",
                ctx.run_id,
                now,
                archived_as=str(ctx.ws.archive_bytes(f.name, f.data, f.sha256)),
            )
        w.add_payments(rows)
        record_paid_effects(w, moving, double, ctx)
    report_dir = report_dir or ctx.ws.reports / ctx.run_id
    rejected = paid.filter(pl.col("reason").is_not_null())
    write_exceptions(
        report_dir / "exceptions" / "rejected.csv",
        rejected.select(
            person_id="pid",
            period="period",
            amount="amount",
            reason_code="reason",
            source_file="source_file",
            source_line="source_line",
        ),
    )
    refunds = refund_rows(ledger, ctx.period, run_id=ctx.run_id)
    if refunds.height:
        write_exceptions(report_dir / "exceptions" / "refunds.csv", refunds, extra=("cause",))
    summary = {
        "command": "paid",
        "run_id": ctx.run_id,
        "as_of": ctx.as_of_text,
        "period": ctx.period,
        "paid": S.total(paid.filter(pl.col("reason").is_null())),
        "rejected": S.figures_by(rejected, "reason"),
        "moved_to_paid_elsewhere": {"count": moving.height},
        "refunds": S.total(ledger.refunds(ctx.period).filter(pl.col("run_id") == ctx.run_id)),
        "files": {"accepted": [f.name for f in files], "refused": []},
    }
    S.write_summary(report_dir / "summary.json", summary)
    summary["report_dir"] = str(report_dir)
    return summary


def record_paid_effects(
    w: LedgerWriter, moving: pl.DataFrame, double: pl.DataFrame, ctx: RunContext
) -> None:
    """Move residents to PAID_ELSEWHERE and list double payments as refunds."""
    w.change_states(
        moving.select(
            "person_id",
            "period",
            "attempts",
            "file_sha256",
            "source_line",
            state=pl.lit("PAID_ELSEWHERE"),
            last_reason=pl.lit("PAID_ELSEWHERE"),
        ),
        run_id=ctx.run_id,
        at=ctx.now_iso(),
        business_date=ctx.as_of_text,
    )
    if double.height:
        w.add_refunds(
            double.select(
                person_id="pid",
                period=pl.lit(ctx.period, pl.Int64),
                instruction_id="instruction_id",
                amount_fen="amount_fen_debited",
                cause=pl.lit("PAID_ELSEWHERE"),
                run_id=pl.lit(ctx.run_id),
                at=pl.lit(ctx.now_iso()),
            )
        )
