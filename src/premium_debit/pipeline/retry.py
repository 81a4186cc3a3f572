"""``premium-debit retry``: re-instruct residents whose failure may pass (SPEC §7).

    RETRY_PENDING residents → eligibility (wait, deadline, paid elsewhere, attempts)
        → the previous instruction's account → assign batches → render → record → write

A retry batch is an ordinary batch with a new id; the retry policy in force is recorded with it.
The account is the one of the resident's last instruction: a newer registry replaces the older
one only for what was never instructed (SPEC §2.2).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl

from premium_debit.ledger.store import Ledger
from premium_debit.logs import get_logger
from premium_debit.pipeline.batches import assign_batches
from premium_debit.pipeline.context import RunContext
from premium_debit.pipeline.outbox import instruction_rows, render_batches
from premium_debit.pipeline.profiles import bank_profiles
from premium_debit.reports import summary as S

# Why a RETRY_PENDING resident is not re-instructed today.
HELD_WAITING = "WAITING"  # fewer than min_days_between days since the failure's reconcile
HELD_DEADLINE = "PAST_DEADLINE"  # as_of is after the campaign deadline
HELD_PAID = "PAID_ELSEWHERE"  # on a paid-elsewhere list
HELD_ATTEMPTS = "ATTEMPTS_USED"  # attempts so far reached max_attempts


@dataclass
class RetryResult:
    candidates: pl.DataFrame  # every RETRY_PENDING resident with ``held`` (null = retried)
    batches: pl.DataFrame
    summary: dict[str, Any]


def retry_candidates(ledger: Ledger, ctx: RunContext) -> pl.DataFrame:
    """RETRY_PENDING residents with their last instruction and why each is held, if it is."""
    policy = ctx.cfg.retry
    residents = ledger.residents(ctx.period).filter(pl.col("state") == "RETRY_PENDING")
    last = (
        ledger.instructions(period=ctx.period)
        .join(ledger.batches(ctx.period).select("batch_id", "bank_code"), on="batch_id")
        .sort("attempt")
        .group_by("person_id")
        .last()
        .select(
            "person_id",
            "bank_code",
            "account_no",
            account_name="name",
            amount_fen="amount_fen",
            last_instruction="instruction_id",
        )
    )
    paid = ledger.paid_persons(ctx.period).with_columns(paid=pl.lit(True))
    earliest = pl.col("state_since").str.to_date() + timedelta(days=policy.min_days_between)
    held = (
        pl.when(pl.col("paid").fill_null(False))
        .then(pl.lit(HELD_PAID))
        .when(pl.col("attempts") >= policy.max_attempts)
        .then(pl.lit(HELD_ATTEMPTS))
        .when(pl.lit(ctx.as_of > ctx.cfg.campaign.deadline))
        .then(pl.lit(HELD_DEADLINE))
        .when(earliest > pl.lit(ctx.as_of))
        .then(pl.lit(HELD_WAITING))
        .otherwise(None)
    )
    return (
        residents.join(last, on="person_id", how="left")
        .join(paid, on="person_id", how="left")
        .with_columns(
            held=held,
            eligible_from=earliest.cast(pl.String),
            pid="person_id",
            attempt=pl.col("attempts") + 1,
        )
        .sort("person_id")
    )


def run_retry(
    ctx: RunContext, ledger: Ledger, *, dry_run: bool = False, report_dir: Path | None = None
) -> RetryResult:
    log = get_logger()
    t0 = time.perf_counter()
    banks = bank_profiles(ctx.cfg)
    candidates = retry_candidates(ledger, ctx)
    due = candidates.filter(pl.col("held").is_null() & pl.col("bank_code").is_in(sorted(banks)))
    instructed = assign_batches(
        due,
        period=ctx.period,
        as_of=ctx.as_of,
        townships=ctx.cfg.township_names,
        banks=banks,
        next_seq=lambda code: ledger.next_batch_seq(code, ctx.as_of_text),
    )
    batch_rows, rendered = render_batches(instructed, ctx, banks, kind="retry")
    held = candidates.filter(pl.col("held").is_not_null())
    summary: dict[str, Any] = {
        "command": "retry",
        "run_id": ctx.run_id,
        "as_of": ctx.as_of_text,
        "period": ctx.period,
        "policy": ctx.cfg.retry.model_dump(),
        "retried": S.total(instructed),
        "held": S.figures_by(held, "held"),
        "banks": {
            code: {
                "instructed": S.total(instructed.filter(pl.col("bank_code") == code)),
                "batches": batch_rows.filter(pl.col("bank_code") == code)["batch_id"].to_list(),
            }
            for code in banks
            if instructed.filter(pl.col("bank_code") == code).height
        },
    }
    if dry_run:
        summary["dry_run"] = True
        return RetryResult(candidates, batch_rows, summary)
    if instructed.height:
        now = ctx.now_iso()
        with ctx.ws.staging() as stage:
            for row in batch_rows.iter_rows(named=True):  # one per batch
                stage.add(
                    ctx.ws.outbox_file(row["bank_code"], row["file_name"]),
                    rendered[row["file_name"]],
                )
            stage.add(
                (report_dir or ctx.ws.reports / ctx.run_id) / "summary.json", S.render(summary)
            )
            with ledger.write() as w:
                w.add_run(ctx.run_id, ctx.command, ctx.as_of_text, now)
                w.add_batches(batch_rows)
                w.add_instructions(instruction_rows(instructed, ctx))
                w.change_states(
                    instructed.select(
                        "person_id",
                        "period",
                        "instruction_id",
                        state=pl.lit("AWAITING_RESULT"),
                        attempts="attempt",
                        last_reason=pl.lit(None, pl.String),
                    ),
                    run_id=ctx.run_id,
                    at=now,
                    business_date=ctx.as_of_text,
                )
    log.info(
        "step_finished",
        step="retry",
        seconds=round(time.perf_counter() - t0, 3),
        retried=instructed.height,
        held=held.height,
    )
    return RetryResult(candidates, batch_rows, summary)
