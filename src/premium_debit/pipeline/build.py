"""``premium-debit build``: township due lists + card registry → bank request files.

    read → validate (rows 1–8) → skip by ledger state (9–14) → match accounts (15–26)
         → assign batches → render → record (one transaction) → write outbox → report

Every due record ends in exactly one bucket: instructed, excluded, skipped or rejected.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from premium_debit.ledger.store import Ledger
from premium_debit.logs import get_logger
from premium_debit.model.ids import mask_account
from premium_debit.model.money import yuan_expr
from premium_debit.model.reasons import REASONS, Kind
from premium_debit.model.states import OPEN_STATES, SKIP_REASON
from premium_debit.pipeline.accounts import match_accounts, prepare_registry
from premium_debit.pipeline.batches import assign_batches
from premium_debit.pipeline.context import RunContext
from premium_debit.pipeline.inputs import InputFile, concat_frames, read_inputs
from premium_debit.pipeline.outbox import instruction_rows, render_batches
from premium_debit.pipeline.paid import (
    NO_SUCCESSES,
    paid_effects,
    payment_rows,
    record_paid_effects,
    validate_paid,
)
from premium_debit.pipeline.profiles import BankProfile, bank_profiles
from premium_debit.pipeline.refunds import refund_rows
from premium_debit.pipeline.validate import validate_due
from premium_debit.reports import summary as S
from premium_debit.reports.exceptions import to_csv_bytes, write_exceptions

_BUCKET_OF = {code: r.kind.value for code, r in REASONS.items() if r.kind != Kind.OUTCOME}
_NEW_STATE = {"rejected": "REJECTED", "excluded": "EXCLUDED", "instructed": "AWAITING_RESULT"}


@dataclass
class BuildResult:
    summary: dict[str, Any]
    classified: pl.DataFrame
    batches: pl.DataFrame
    files: dict[str, bytes] = field(default_factory=dict)
    report_dir: Path | None = None


def _step(name: str, started: float, **facts: Any) -> None:
    get_logger().info(
        "step_finished", step=name, seconds=round(time.perf_counter() - started, 3), **facts
    )


def classify(
    validated: pl.DataFrame,
    registry: pl.DataFrame,
    states: pl.DataFrame,
    paid_pids: pl.DataFrame,
    ctx: RunContext,
    banks: dict[str, BankProfile],
) -> pl.DataFrame:
    """Every due record with ``reason``, ``bucket`` and, when instructable, its account."""
    frame = validated.with_row_index("_row")

    # Rows 9–14: what the ledger (and the paid lists) already know.
    t = time.perf_counter()
    skip_map = {s.value: code for s, code in SKIP_REASON.items()}
    frame = frame.join(
        states.select(pid="person_id", current_state="state"), on="pid", how="left"
    ).join(paid_pids.select("pid", on_paid_list=pl.lit(True)), on="pid", how="left")
    skip = (
        pl.when(
            pl.col("on_paid_list").fill_null(False) | (pl.col("current_state") == "PAID_ELSEWHERE")
        )
        .then(pl.lit("PAID_ELSEWHERE"))
        .otherwise(pl.col("current_state").replace_strict(skip_map, default=None))
    )
    # Row 10 (paid) outranks rows 11–14; row 9 (already collected) outranks row 10.
    skip = (
        pl.when(pl.col("current_state") == "COLLECTED")
        .then(pl.lit("ALREADY_COLLECTED"))
        .otherwise(skip)
    )
    frame = frame.with_columns(
        reason=pl.coalesce(pl.col("reason"), skip),
    ).with_columns(
        reason_field=pl.when(pl.col("reason_field").is_null() & pl.col("reason").is_not_null())
        .then(pl.lit("person_id"))
        .otherwise(pl.col("reason_field"))
    )
    _step("skip", t, skipped=int(frame["reason"].is_not_null().sum()))

    # Rows 15–26: the card account.
    t = time.perf_counter()
    candidates = frame.filter(pl.col("reason").is_null()).select("pid", "name_norm")
    matched = match_accounts(candidates, prepare_registry(registry, banks), banks)
    frame = (
        frame.join(matched.rename({"reason": "account_reason"}), on="pid", how="left")
        .with_columns(
            reason=pl.coalesce(pl.col("reason"), pl.col("account_reason")),
        )
        .drop("account_reason")
    )
    bucket = pl.col("reason").replace_strict(_BUCKET_OF, default="instructed")
    frame = frame.with_columns(bucket=bucket).sort("_row").drop("_row")
    _step("match_accounts", t, candidates=candidates.height)
    return frame


def resident_changes(
    classified: pl.DataFrame, states: pl.DataFrame, ctx: RunContext
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(resident rows to upsert, transitions to append) for residents whose fate is open.

    A resident whose state is decided (collected, in flight, in review, …) is only reported as
    skipped; build never changes it. A record that changes nothing writes nothing.
    """
    valid = classified.filter(pl.col("reason").ne_missing("INVALID_PERSON_ID")).unique(
        "pid", keep="first", maintain_order=True
    )
    open_states = [s.value for s in OPEN_STATES]
    new_state = (
        pl.when(pl.col("reason") == "PAID_ELSEWHERE")
        .then(pl.lit("PAID_ELSEWHERE"))
        .otherwise(pl.col("bucket").replace_strict(_NEW_STATE, default=None))
    )
    rows = valid.join(
        states.select(
            "person_id",
            old_state="state",
            old_reason="last_reason",
            old_township="township",
            old_name="name",
            old_amount="amount_due_fen",
            old_village="village",
            old_category="category",
        ),
        left_on="pid",
        right_on="person_id",
        how="left",
    ).with_columns(state=new_state)
    may_change = pl.col("old_state").is_null() | pl.col("old_state").is_in(open_states)
    rows = rows.filter(may_change & pl.col("state").is_not_null())
    rows = rows.with_columns(
        last_reason=pl.when(pl.col("bucket") == "instructed")
        .then(None)
        .otherwise(pl.col("reason")),
        township_v=pl.col("township").fill_null(""),
        name_v=pl.col("name_norm").fill_null(""),
    )
    state_changed = (
        pl.col("old_state").is_null()
        | (pl.col("state") != pl.col("old_state"))
        | ~pl.col("last_reason").eq_missing(pl.col("old_reason"))
    )
    data_changed = (
        ~pl.col("township_v").eq_missing(pl.col("old_township"))
        | ~pl.col("name_v").eq_missing(pl.col("old_name"))
        | ~pl.col("amount_fen").eq_missing(pl.col("old_amount"))
        | ~pl.col("village").eq_missing(pl.col("old_village"))
        | ~pl.col("category").eq_missing(pl.col("old_category"))
    )
    rows = rows.with_columns(_state_changed=state_changed).filter(state_changed | data_changed)
    upserts = rows.select(
        person_id="pid",
        period=pl.lit(ctx.period, pl.Int64),
        township="township_v",
        village="village",
        name="name_v",
        category="category",
        amount_due_fen="amount_fen",
        state="state",
        attempts=pl.when(pl.col("bucket") == "instructed").then(1).otherwise(0).cast(pl.Int64),
        last_reason="last_reason",
        state_since=pl.lit(ctx.as_of_text),
    )
    transitions = rows.filter("_state_changed").select(
        person_id="pid",
        period=pl.lit(ctx.period, pl.Int64),
        state="state",
        reason="last_reason",
        run_id=pl.lit(ctx.run_id),
        file_sha256="file_sha256",
        source_line="source_line",
        instruction_id="instruction_id",
        at=pl.lit(ctx.now_iso()),
    )
    return upserts, transitions


def build_summary(
    due: pl.DataFrame,
    classified: pl.DataFrame,
    batches: pl.DataFrame,
    ctx: RunContext,
    files: Sequence[InputFile],
    paid_rejected: pl.DataFrame,
) -> dict[str, Any]:
    """summary.json of a build, with the conservation identity per township and in total."""
    cls = classified.with_columns(township=pl.col("township").fill_null("(空)"))
    due_fen = due.with_columns(township=pl.col("township").fill_null("(空)"))
    buckets = {b: S.total(cls.filter(pl.col("bucket") == b)) for b in S.BUCKETS}
    townships: dict[str, Any] = {}
    checks = []
    due_by_township = S.figures_by(due_fen, "township")
    for name in [
        *ctx.cfg.township_names,
        *sorted(set(due_by_township) - set(ctx.cfg.township_names)),
    ]:
        part = cls.filter(pl.col("township") == name)
        if part.height == 0 and name not in due_by_township:
            continue
        tb = {b: S.total(part.filter(pl.col("bucket") == b)) for b in S.BUCKETS}
        townships[name] = {
            "due": due_by_township.get(name, S.figure()),
            "buckets": tb,
            "reasons": S.figures_by(part.filter(pl.col("reason").is_not_null()), "reason"),
        }
        checks.append(
            S.check(
                "due = excluded + skipped + rejected + instructed",
                due_by_township.get(name, S.figure()),
                S.add(tb.values()),
                name,
            )
        )
    total_due = S.total(due_fen)
    checks.append(
        S.check(
            "due = excluded + skipped + rejected + instructed", total_due, S.add(buckets.values())
        )
    )
    instructed = cls.filter(pl.col("bucket") == "instructed")
    banks: dict[str, Any] = {}
    for code in ctx.cfg.banks:
        mine = instructed.filter(pl.col("bank_code") == code.code)
        my_batches = batches.filter(pl.col("bank_code") == code.code) if batches.height else batches
        if mine.height == 0:
            continue
        banks[code.code] = {
            "instructed": S.total(mine),
            "batches": my_batches["batch_id"].to_list() if my_batches.height else [],
        }
    return {
        "command": "build",
        "run_id": ctx.run_id,
        "as_of": ctx.as_of_text,
        "period": ctx.period,
        "due": total_due,
        "buckets": buckets,
        "reasons": S.figures_by(cls.filter(pl.col("reason").is_not_null()), "reason"),
        "townships": townships,
        "banks": banks,
        "files": {
            "accepted": [{"file": f.name, "kind": f.kind, "sha256": f.sha256} for f in files],
            "refused": [],
        },
        "paid_rejected": S.total(paid_rejected),
        "conservation": S.conservation(checks),
    }


def rejected_rows(classified: pl.DataFrame, period: int) -> pl.DataFrame:
    """The exception list rejected.csv, in file order."""
    rej = classified.filter(pl.col("bucket") == "rejected")
    return rej.select(
        "township",
        "village",
        person_id=pl.col("pid"),
        name="name",
        period=pl.col("period"),
        amount=pl.when(pl.col("reason") == "INVALID_AMOUNT")
        .then(pl.col("amount_due"))
        .otherwise(yuan_expr(pl.col("amount_fen"))),
        reason_code="reason",
        field="reason_field",
        bank_code="bank_code",
        account_no_masked=mask_account(pl.col("account_no")),
        source_file="source_file",
        source_line="source_line",
    )


def run_build(
    ctx: RunContext,
    ledger: Ledger,
    due_paths: Sequence[Path],
    registry_path: Path,
    paid_paths: Sequence[Path] = (),
    *,
    dry_run: bool = False,
    report_dir: Path | None = None,
) -> BuildResult:
    log = get_logger()
    cfg = ctx.cfg
    t0 = time.perf_counter()
    files = read_inputs(
        [(p, "due") for p in due_paths]
        + [(registry_path, "registry")]
        + [(p, "paid") for p in paid_paths]
    )
    due = concat_frames(files, "due")
    registry = concat_frames(files, "registry")
    paid = validate_paid(concat_frames(files, "paid"), cfg, ctx.as_of)
    _step("read", t0, due=due.height, registry=registry.height, paid=paid.height)

    banks = bank_profiles(cfg)
    states = ledger.residents(ctx.period)
    paid_ok = paid.filter(pl.col("reason").is_null())
    paid_pids = pl.concat(
        [ledger.paid_persons(ctx.period).rename({"person_id": "pid"}), paid_ok.select("pid")]
    ).unique()
    t = time.perf_counter()
    validated = validate_due(due, cfg, ctx.as_of)
    _step("validate", t, rows=validated.height)
    classified = classify(validated, registry, states, paid_pids, ctx, banks)

    t = time.perf_counter()
    instructed = assign_batches(
        classified.filter(pl.col("bucket") == "instructed"),
        period=ctx.period,
        as_of=ctx.as_of,
        townships=cfg.township_names,
        banks=banks,
        next_seq=lambda code: ledger.next_batch_seq(code, ctx.as_of_text),
    )
    classified = _attach_instructions(classified, instructed)
    batch_rows, rendered = render_batches(instructed, ctx, banks)
    _step("render", t, batches=batch_rows.height, instructions=instructed.height)

    # The due side of the conservation check is taken before any join, so a join that loses or
    # duplicates a record shows up as a broken identity.
    summary = build_summary(
        validated.select("township", "amount_fen"),
        classified,
        batch_rows,
        ctx,
        files,
        paid.filter(pl.col("reason").is_not_null()),
    )
    result = BuildResult(summary=summary, classified=classified, batches=batch_rows, files=rendered)
    if dry_run:
        summary["dry_run"] = True
        log.info("build_dry_run", **{b: f["count"] for b, f in summary["buckets"].items()})
        return result

    upserts, transitions = resident_changes(classified, states, ctx)
    # Residents this build (re)writes take their state from it; the paid list moves the others.
    # The ledger was read once above (``states``); successes are read only if someone paid.
    moving, double = paid_effects(
        states.filter(~pl.col("person_id").is_in(upserts["person_id"].implode())),
        paid,
        ledger.instructions(period=ctx.period, status="SUCCEEDED")
        if paid_ok.height
        else NO_SUCCESSES,
    )
    t = time.perf_counter()
    report_dir = report_dir or ctx.ws.reports / ctx.run_id
    with ctx.ws.staging() as stage:
        # Everything this run writes is staged before the commit: a write error changes nothing.
        archived = {f.sha256: ctx.ws.archive_bytes(f.name, f.data, f.sha256) for f in files}
        for row in batch_rows.iter_rows(named=True):  # one per batch
            stage.add(
                ctx.ws.outbox_file(row["bank_code"], row["file_name"]), rendered[row["file_name"]]
            )
        stage.add(
            report_dir / "exceptions" / "rejected.csv",
            to_csv_bytes(rejected_rows(classified, ctx.period), extra=("field",)),
        )
        stage.add(report_dir / "summary.json", S.render(summary))
        with ledger.write() as w:
            w.add_run(ctx.run_id, ctx.command, ctx.as_of_text, ctx.now_iso())
            for f in files:
                w.add_file(
                    f.sha256,
                    f.name,
                    f.kind,
                    ctx.run_id,
                    ctx.now_iso(),
                    archived_as=str(archived[f.sha256]),
                )
            w.upsert_residents(upserts)
            w.add_transitions(transitions)
            w.add_batches(batch_rows)
            w.add_instructions(instruction_rows(instructed, ctx))
            w.add_payments(payment_rows(paid, ctx.period, ctx.run_id))
            record_paid_effects(w, moving, double, ctx)
        _step("record", t, residents=upserts.height, transitions=transitions.height)
    if double.height:
        write_exceptions(
            report_dir / "exceptions" / "refunds.csv",
            refund_rows(ledger, ctx.period, run_id=ctx.run_id),
            extra=("cause",),
        )
    result.report_dir = report_dir
    log.info(
        "build_finished",
        seconds=round(time.perf_counter() - t0, 3),
        **{b: f["count"] for b, f in summary["buckets"].items()},
    )
    return result


def _attach_instructions(classified: pl.DataFrame, instructed: pl.DataFrame) -> pl.DataFrame:
    ids = instructed.select("pid", "batch_id", "seq", "instruction_id")
    return classified.join(ids, on="pid", how="left").with_columns(
        [
            pl.when(pl.col("bucket") == "instructed").then(pl.col(c)).otherwise(None).alias(c)
            for c in ("batch_id", "seq", "instruction_id")
        ]
    )
