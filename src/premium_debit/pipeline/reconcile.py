"""``premium-debit reconcile``: bank result files → the truth about every instruction.

    for each file: read bytes → archive → replay? → parse & check the file as a whole (refuse
    whole, or go on) → match → classify → record (one transaction per file)
    then: exception lists, summary.json, conservation over all instructions.

A refused file is moved to quarantine with its reason and changes nothing; the same bytes again
are a replay and change nothing; each file is accepted or refused on its own (SPEC §5).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from premium_debit.errors import InputRefused
from premium_debit.formats.bankfile import parse_result
from premium_debit.ledger.store import Ledger, LedgerWriter
from premium_debit.logs import get_logger
from premium_debit.model.reasons import RETRYABLE_OUTCOMES
from premium_debit.pipeline.classify import classify_results
from premium_debit.pipeline.context import RunContext
from premium_debit.pipeline.profiles import BankProfile, bank_profiles
from premium_debit.workspace import read_bytes, sha256_bytes

RESULT_NAME = re.compile(r"^([A-Z0-9]{4})_([0-9]{4}[A-Z0-9]{4}[0-9]{10})\.ret$")


@dataclass
class FileOutcome:
    file: str
    status: str  # accepted | refused | replayed
    reason: str = ""
    sha256: str = ""
    batch_id: str | None = None
    bank_code: str | None = None
    instructions: pl.DataFrame | None = None  # per-instruction outcomes of an accepted file
    rows: pl.DataFrame | None = None  # every result row with its class


@dataclass
class ReconcileResult:
    files: list[FileOutcome] = field(default_factory=list)

    @property
    def refused(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "refused"]


def _policy(batch: dict[str, Any], ctx: RunContext) -> int:
    """max_attempts in force when the batch was issued (SPEC §7)."""
    if batch.get("policy"):
        return int(json.loads(batch["policy"]).get("max_attempts", ctx.cfg.retry.max_attempts))
    return ctx.cfg.retry.max_attempts


def check_result_file(
    name: str, data: bytes, ledger: Ledger, banks: dict[str, BankProfile]
) -> tuple[BankProfile, dict[str, Any], pl.DataFrame]:
    """Refuse the file whole (InputRefused) or return (bank, batch, parsed detail rows)."""
    m = RESULT_NAME.match(name)
    if m is None:
        raise InputRefused(name, "file name is not <bank_code>_<batch_id>.ret")
    bank_code, _batch_id = m.group(1), m.group(2)
    bank = banks.get(bank_code)
    if bank is None:
        raise InputRefused(name, f"bank {bank_code} is not configured")
    parsed = parse_result(bank.layout, bank.encoding, data, name, bank.success_codes)
    if parsed.problems:
        first = parsed.problems[0]
        n = len(parsed.problems) - 1
        more = f" (and {n} more problem{'s' if n > 1 else ''})" if n else ""
        raise InputRefused(
            name,
            f"{first.message}{more}",
            line=first.line,
            field=first.field,
            details=[str(p) for p in parsed.problems],
        )
    header_batch = str(parsed.header.get("batch_id"))
    batch = ledger.batch(header_batch)
    if batch is None:
        raise InputRefused(name, f"batch {header_batch} is unknown", line=1, field="batch_id")
    if batch["bank_code"] != parsed.header.get("bank_code") or batch["bank_code"] != bank_code:
        raise InputRefused(
            name,
            f"batch {header_batch} belongs to bank {batch['bank_code']}",
            line=1,
            field="bank_code",
        )
    earlier = ledger.result_file_for_batch(header_batch)
    if earlier is not None:
        raise InputRefused(
            name, f"batch {header_batch} already has a different result file ({earlier['name']})"
        )
    return bank, batch, parsed.details


def _resident_updates(
    outcomes: pl.DataFrame,
    residents: pl.DataFrame,
    max_attempts: int,
    ctx: RunContext,
    sha: str,
) -> pl.DataFrame:
    """New resident states after the batch's outcomes (SPEC §6, §7), with their causes."""
    j = outcomes.join(
        residents.select("person_id", "period", "state", "attempts"), on="person_id", how="inner"
    )
    retryable = pl.col("outcome").is_in(sorted(RETRYABLE_OUTCOMES))
    new_state = (
        pl.when(pl.col("state") == "PAID_ELSEWHERE")
        .then(pl.lit("PAID_ELSEWHERE"))
        .when(pl.col("status") == "SUCCEEDED")
        .then(pl.lit("COLLECTED"))
        .when(pl.col("status") == "REVIEW")
        .then(pl.lit("REVIEW"))
        .when(retryable & (pl.col("attempts") < max_attempts))
        .then(pl.lit("RETRY_PENDING"))
        .otherwise(pl.lit("FAILED"))
    )
    j = j.with_columns(
        new_state=new_state,
        last_reason=pl.when(pl.col("status") == "SUCCEEDED")
        .then(None)
        .otherwise(pl.col("outcome")),
    )
    # Only a resident still awaiting this result changes (one who paid elsewhere meanwhile keeps
    # PAID_ELSEWHERE; a success is then a refund).
    return j.filter(pl.col("state") == "AWAITING_RESULT").select(
        "person_id",
        "period",
        "attempts",
        "last_reason",
        "instruction_id",
        state="new_state",
        file_sha256=pl.lit(sha),
        source_line="line",
    )


def _record(
    w: LedgerWriter,
    ctx: RunContext,
    name: str,
    sha: str,
    batch: dict[str, Any],
    outcomes: pl.DataFrame,
    rows: pl.DataFrame,
    changes: pl.DataFrame,
    refunds: pl.DataFrame,
    archived: str,
) -> None:
    w.add_run(ctx.run_id, ctx.command, ctx.as_of_text, ctx.now_iso())
    w.add_file(
        sha,
        name,
        "result",
        ctx.run_id,
        ctx.now_iso(),
        batch_id=batch["batch_id"],
        archived_as=archived,
    )
    w.add_results(
        rows.select(
            file_sha256=pl.lit(sha),
            line="line",
            batch_id=pl.lit(batch["batch_id"]),
            instruction_id="instruction_id",
            account_no="account_no",
            amount_fen="amount_fen",
            debited_fen="debited_fen",
            code="code",
            message="message",
            bank_ref="bank_ref",
            **{"class": pl.col("class")},
        )
    )
    w.settle_instructions(
        outcomes.select(
            "instruction_id",
            "status",
            "outcome",
            "debited_fen",
            result_sha256=pl.lit(sha),
            result_line="line",
        )
    )
    w.change_states(changes, run_id=ctx.run_id, at=ctx.now_iso(), business_date=ctx.as_of_text)
    w.add_refunds(refunds)


def reconcile_file(
    path: Path,
    ctx: RunContext,
    ledger: Ledger,
    banks: dict[str, BankProfile],
    *,
    data: bytes | None = None,
) -> FileOutcome:
    """Accept, refuse or skip one result file; an accepted file commits in one transaction."""
    log = get_logger()
    name = path.name
    if data is None:
        try:
            data = read_bytes(path)
        except FileNotFoundError:
            return FileOutcome(name, "refused", "file not found")
    sha = sha256_bytes(data)
    seen = ledger.file(sha)
    if seen is not None:
        log.info("result_replayed", file=name, first_seen=seen["received_at"])
        return FileOutcome(name, "replayed", f"same bytes accepted on {seen['received_at']}", sha)
    archived = ctx.ws.archive_bytes(name, data, sha)  # raw bytes kept before parsing
    try:
        bank, batch, rows = check_result_file(name, data, ledger, banks)
    except InputRefused as exc:
        # The reason file lists every problem found, the console the first and a count.
        ctx.ws.quarantine_bytes(name, data, "\n".join([str(exc), *exc.details]))
        log.warning("result_refused", file=name, reason=str(exc), problems=exc.details[:100])
        return FileOutcome(name, "refused", str(exc), sha)
    instructions = ledger.instructions(batch_id=batch["batch_id"])
    collected = ledger.collected_of_batch(batch["batch_id"])
    outcomes, classed = classify_results(instructions, rows, bank.codes, collected)
    residents = ledger.residents_of_batch(batch["batch_id"])
    changes = _resident_updates(outcomes, residents, _policy(batch, ctx), ctx, sha)
    refunds = _refunds(outcomes, residents, instructions, ctx)
    with ledger.write() as w:
        _record(
            w,
            ctx,
            name,
            sha,
            batch,
            outcomes,
            classed,
            changes,
            refunds,
            str(archived),
        )
    log.info(
        "result_accepted",
        file=name,
        batch_id=batch["batch_id"],
        rows=rows.height,
        succeeded=int((outcomes["status"] == "SUCCEEDED").sum()),
        failed=int((outcomes["status"] == "FAILED").sum()),
        review=int((outcomes["status"] == "REVIEW").sum()),
    )
    return FileOutcome(
        name,
        "accepted",
        "",
        sha,
        batch["batch_id"],
        bank.code,
        outcomes.join(
            instructions.select(
                "instruction_id",
                "township",
                "amount_fen",
                "attempt",
                "batch_id",
                "account_no",
                "period",
            ),
            on="instruction_id",
            how="left",
        ),
        classed,
    )


def _refunds(
    outcomes: pl.DataFrame, residents: pl.DataFrame, instructions: pl.DataFrame, ctx: RunContext
) -> pl.DataFrame:
    """A success for a resident who paid elsewhere, or a second success: refund candidates."""
    j = outcomes.join(residents.select("person_id", "state"), on="person_id", how="left").join(
        instructions.select("instruction_id", "amount_fen", "period"), on="instruction_id"
    )
    paid = j.filter((pl.col("status") == "SUCCEEDED") & (pl.col("state") == "PAID_ELSEWHERE"))
    second = j.filter(pl.col("outcome") == "SECOND_SUCCESS")
    both = pl.concat(
        [
            paid.with_columns(cause=pl.lit("PAID_ELSEWHERE")),
            second.with_columns(cause=pl.lit("SECOND_SUCCESS")),
        ]
    )
    return both.select(
        "person_id",
        "period",
        "instruction_id",
        amount_fen=pl.col("debited_fen").fill_null(pl.col("amount_fen")),
        cause="cause",
        run_id=pl.lit(ctx.run_id),
        at=pl.lit(ctx.now_iso()),
    )


def run_reconcile(ctx: RunContext, ledger: Ledger, paths: Sequence[Path]) -> ReconcileResult:
    banks = bank_profiles(ctx.cfg)
    result = ReconcileResult()
    t0 = time.perf_counter()
    for path in paths:
        result.files.append(reconcile_file(path, ctx, ledger, banks))
    get_logger().info(
        "step_finished",
        step="reconcile",
        seconds=round(time.perf_counter() - t0, 3),
        accepted=sum(f.status == "accepted" for f in result.files),
        refused=len(result.refused),
        replayed=sum(f.status == "replayed" for f in result.files),
    )
    return result
