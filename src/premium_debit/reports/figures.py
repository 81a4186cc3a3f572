"""Everything the operator's report shows (SPEC §8 ``report``), computed from ledger frames.

Pure polars: frames in, frames out — no queries, no clock, explicit sorts — so the workbook,
summary.json and the terminal table are three renderings of one set of figures.

Figures per scope (township, bank, total), for one period:

* ``due``            every resident the ledger knows (count, amount due in fen);
* ``instructed``     residents with at least one instruction (amount due);
* ``collected``      residents in state COLLECTED; fen = their SUCCEEDED instruction amounts;
* ``failed`` ``review`` ``awaiting`` ``retry_pending`` ``paid_elsewhere`` ``rejected``
  ``excluded``       residents in that state (amount due);
* ``collection_rate`` collected count / due count — a ratio for display, never money.

A resident belongs to the bank of their last instruction (highest attempt); a resident never
instructed belongs to no bank, so the bank rows need not add up to the total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from premium_debit.model.ids import mask_account
from premium_debit.model.reasons import (
    OUTCOME_CODES,
    OUTCOMES,
    PRE_DEBIT,
    PRE_DEBIT_CODES,
    REASONS,
    REVIEW_CLASSES,
    REVIEW_CODES,
    Reason,
)
from premium_debit.reports import summary as S

# (figure name, resident state) of the figures that count residents in one state, by amount due.
STATE_FIGURES: tuple[tuple[str, str], ...] = (
    ("failed", "FAILED"),
    ("review", "REVIEW"),
    ("awaiting", "AWAITING_RESULT"),
    ("retry_pending", "RETRY_PENDING"),
    ("paid_elsewhere", "PAID_ELSEWHERE"),
    ("rejected", "REJECTED"),
    ("excluded", "EXCLUDED"),
)
# Every {count, amount_fen} figure of a scope, in display order.
FIGURES: tuple[str, ...] = ("due", "instructed", "collected", *(f for f, _ in STATE_FIGURES))

# Bank outcomes that say the registry's account data is wrong, not the resident's balance: many
# of them in one township point at a stale or badly keyed card registry (SPEC §2.2).
ADMIN_OUTCOMES: tuple[str, ...] = (
    "ACCOUNT_NOT_ACTIVATED",
    "ACCOUNT_CLOSED",
    "ACCOUNT_NOT_FOUND",
    "NAME_MISMATCH",
)

# A FAILED or REJECTED resident whose reason was never recorded (e.g. a state carried over from
# an older system) is still counted, under this key.
NO_REASON = "UNRECORDED"
NO_REASON_ZH = "未记录原因"

# Display order of reason codes: the registry's own order. A code can be both a pre-debit
# reason and a bank outcome (ACCOUNT_FROZEN), so failures and rejections each have their order.
_FAILURE_ORDER: tuple[str, ...] = tuple(dict.fromkeys((*OUTCOME_CODES, *REVIEW_CODES, *REASONS)))
_REJECTION_ORDER: tuple[str, ...] = tuple(dict.fromkeys((*PRE_DEBIT_CODES, *REASONS)))

_RESIDENTS_SCHEMA = pl.Schema(
    {
        "person_id": pl.String,
        "township": pl.String,
        "village": pl.String,
        "name": pl.String,
        "amount_due_fen": pl.Int64,
        "state": pl.String,
        "attempts": pl.Int64,
        "last_reason": pl.String,
    }
)


@dataclass(frozen=True)
class ReportInputs:
    """The ledger frames of one period the report is computed from.

    ``instructions`` is ``conservation.instruction_frame`` (instructions with their bank_code),
    ``refunds`` is ``Ledger.refunds``, ``overdue`` is ``reconcile_report.overdue_instructions``.
    """

    period: int
    residents: pl.DataFrame
    instructions: pl.DataFrame
    refunds: pl.DataFrame
    overdue: pl.DataFrame


@dataclass(frozen=True)
class ReportFigures:
    """The figures of one period, each a frame in display order."""

    period: int
    townships: pl.DataFrame  # one row per township: name + <figure>_count/_fen + rate
    banks: pl.DataFrame  # one row per bank, same columns
    totals: pl.DataFrame  # one row, same columns, name "合计"
    reasons: pl.DataFrame  # scope, name, kind (failed/rejected), reason_code, count, amount_fen
    instruction_status: pl.DataFrame  # scope, name, status, count, amount_fen
    retry_recovery: pl.DataFrame  # reason_code, attempt, failed_*, recovered_*, recovery_rate
    data_quality: pl.DataFrame  # township, instructions, admin failures, share, flagged
    admin_threshold: float
    failed: pl.DataFrame  # exception lists, masked accounts, amounts in fen
    review: pl.DataFrame
    refunds: pl.DataFrame
    overdue: pl.DataFrame
    rejected: pl.DataFrame


# -- helpers ---------------------------------------------------------------------------------


def scope_order(known: Sequence[str], seen: Sequence[str]) -> list[str]:
    """``known`` (configuration order), then any other name of ``seen``, sorted."""
    extra = sorted(set(seen) - set(known))
    return [*known, *extra]


def _order_frame(names: Sequence[str], column: str = "name") -> pl.DataFrame:
    return pl.DataFrame(
        {column: list(names), "_order": list(range(len(names)))},
        schema={column: pl.String, "_order": pl.Int64},
    )


def _reason_rank(col: pl.Expr, order: Sequence[str] = _FAILURE_ORDER) -> pl.Expr:
    """Registry position of a reason code in ``order``; unknown codes after all known ones."""
    codes = list(order)
    return col.replace_strict(
        codes, list(range(len(codes))), default=len(codes), return_dtype=pl.Int64
    )


def _texts(first: Sequence[Reason]) -> dict[str, Reason]:
    out = {r.code: r for r in first}
    for code, r in REASONS.items():
        out.setdefault(code, r)
    return out


# A code that is both a pre-debit reason and a bank outcome has a text for each; a failure
# shows the bank's, a rejection the pre-debit one.
FAILURE_TEXTS: dict[str, Reason] = _texts((*OUTCOMES, *REVIEW_CLASSES))
REJECTION_TEXTS: dict[str, Reason] = _texts(PRE_DEBIT)


def reason_zh(col: pl.Expr, texts: Mapping[str, Reason] = FAILURE_TEXTS) -> pl.Expr:
    """Chinese description of a reason code, from the registry."""
    codes = list(texts)
    return col.replace_strict(
        [*codes, NO_REASON],
        [*(texts[c].zh for c in codes), NO_REASON_ZH],
        default=col,
        return_dtype=pl.String,
    )


def _action_zh(col: pl.Expr, texts: Mapping[str, Reason]) -> pl.Expr:
    codes = list(texts)
    return col.replace_strict(
        codes, [texts[c].action_zh for c in codes], default=None, return_dtype=pl.String
    )


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """num / den as a float, null when den is 0 (no one to divide by)."""
    return pl.when(den > 0).then(num.cast(pl.Float64) / den.cast(pl.Float64)).otherwise(None)


# -- per-resident frame ----------------------------------------------------------------------


def resident_frame(inputs: ReportInputs) -> pl.DataFrame:
    """One row per resident: state, amount due, collected fen, whether and where instructed."""
    residents = inputs.residents.select(_RESIDENTS_SCHEMA.names()).cast(_RESIDENTS_SCHEMA)
    instr = inputs.instructions
    last = pl.col("attempt").arg_max()  # attempts of a resident are unique (ledger constraint)
    per_person = instr.group_by("person_id").agg(
        n_instructions=pl.len(),
        bank_code=pl.col("bank_code").get(last),
        last_instruction_id=pl.col("instruction_id").get(last),
        last_batch_id=pl.col("batch_id").get(last),
        last_account_no=pl.col("account_no").get(last),
        succeeded_fen=pl.col("amount_fen").filter(pl.col("status") == "SUCCEEDED").sum(),
    )
    # Row order is left as the join gives it: every output sorts explicitly.
    return residents.join(per_person, on="person_id", how="left").with_columns(
        instructed=pl.col("n_instructions").fill_null(0) > 0,
        collected_fen=pl.when(pl.col("state") == "COLLECTED")
        .then(pl.col("succeeded_fen").fill_null(0))
        .otherwise(0),
        last_reason=pl.col("last_reason").fill_null(NO_REASON),
    )


def _figure_aggs() -> list[pl.Expr]:
    due = pl.col("amount_due_fen")
    aggs = [
        pl.len().alias("due_count"),
        due.sum().alias("due_fen"),
        pl.col("instructed").sum().cast(pl.Int64).alias("instructed_count"),
        due.filter(pl.col("instructed")).sum().alias("instructed_fen"),
        (pl.col("state") == "COLLECTED").sum().cast(pl.Int64).alias("collected_count"),
        pl.col("collected_fen").sum().alias("collected_fen"),
    ]
    for name, state in STATE_FIGURES:
        aggs.append((pl.col("state") == state).sum().cast(pl.Int64).alias(f"{name}_count"))
        aggs.append(due.filter(pl.col("state") == state).sum().alias(f"{name}_fen"))
    return aggs


FIGURE_COLUMNS: tuple[str, ...] = tuple(c for f in FIGURES for c in (f"{f}_count", f"{f}_fen"))


def _scope_table(people: pl.DataFrame, key: str, names: Sequence[str]) -> pl.DataFrame:
    """Figures per value of ``key``, one row per name of ``names`` in that order (zeros kept)."""
    agg = people.filter(pl.col(key).is_not_null()).group_by(key).agg(_figure_aggs())
    return (
        _order_frame(names)
        .join(agg.rename({key: "name"}), on="name", how="left")
        .with_columns(pl.col(FIGURE_COLUMNS).fill_null(0).cast(pl.Int64))
        .sort("_order")
        .select("name", *FIGURE_COLUMNS)
        .with_columns(collection_rate=_ratio(pl.col("collected_count"), pl.col("due_count")))
    )


def _totals(people: pl.DataFrame) -> pl.DataFrame:
    return (
        people.select(_figure_aggs())
        .with_columns(pl.col(FIGURE_COLUMNS).fill_null(0).cast(pl.Int64))
        .select(pl.lit("合计").alias("name"), *FIGURE_COLUMNS)
        .with_columns(collection_rate=_ratio(pl.col("collected_count"), pl.col("due_count")))
    )


def _reasons(people: pl.DataFrame) -> pl.DataFrame:
    """FAILED and REJECTED residents by last_reason, per township, per bank and in total."""
    kinds = people.filter(pl.col("state").is_in(["FAILED", "REJECTED"])).with_columns(
        kind=pl.when(pl.col("state") == "FAILED")
        .then(pl.lit("failed"))
        .otherwise(pl.lit("rejected"))
    )
    parts = []
    for scope, key in (("township", "township"), ("bank", "bank_code"), ("total", None)):
        name = pl.col(key) if key else pl.lit("合计")
        part = kinds.filter(name.is_not_null()) if key else kinds
        parts.append(
            part.group_by(name.alias("name"), "kind", pl.col("last_reason").alias("reason_code"))
            .agg(count=pl.len().cast(pl.Int64), amount_fen=pl.col("amount_due_fen").sum())
            .with_columns(scope=pl.lit(scope))
        )
    schema = pl.Schema(
        {
            "scope": pl.String,
            "name": pl.String,
            "kind": pl.String,
            "reason_code": pl.String,
            "count": pl.Int64,
            "amount_fen": pl.Int64,
        }
    )
    out = pl.concat([p.select(list(schema)).cast(schema) for p in parts], how="vertical")
    rank = (
        pl.when(pl.col("kind") == "failed")
        .then(_reason_rank(pl.col("reason_code")))
        .otherwise(_reason_rank(pl.col("reason_code"), _REJECTION_ORDER))
    )
    return out.sort("scope", "name", "kind", rank, "reason_code")


def _instruction_status(instr: pl.DataFrame) -> pl.DataFrame:
    """Instructions by their own status (SPEC §6.3), per township, per bank and in total."""
    parts = []
    for scope, key in (("township", "township"), ("bank", "bank_code"), ("total", None)):
        name = pl.col(key) if key else pl.lit("合计")
        parts.append(
            instr.group_by(name.alias("name"), "status")
            .agg(count=pl.len().cast(pl.Int64), amount_fen=pl.col("amount_fen").sum())
            .with_columns(scope=pl.lit(scope))
            .select("scope", "name", "status", "count", "amount_fen")
        )
    return pl.concat(parts, how="vertical").sort("scope", "name", "status")


# -- retry recovery and data quality ---------------------------------------------------------


def retry_recovery(instr: pl.DataFrame) -> pl.DataFrame:
    """Per failure reason and attempt: instructions that failed so, and how many of those
    residents succeeded at a later attempt (with the fen then collected)."""
    failed = instr.filter(pl.col("status") == "FAILED").select(
        "person_id",
        "attempt",
        "amount_fen",
        reason_code=pl.col("outcome").fill_null(NO_REASON),
    )
    later = instr.filter(pl.col("status") == "SUCCEEDED").select(
        "person_id", success_attempt="attempt", success_fen="amount_fen"
    )
    joined = failed.join(later, on="person_id", how="left").with_columns(
        recovered=(pl.col("success_attempt") > pl.col("attempt")).fill_null(False)
    )
    return (
        joined.group_by("reason_code", "attempt")
        .agg(
            failed_count=pl.len().cast(pl.Int64),
            failed_fen=pl.col("amount_fen").sum(),
            recovered_count=pl.col("recovered").sum().cast(pl.Int64),
            recovered_fen=pl.col("success_fen").filter(pl.col("recovered")).sum(),
        )
        .with_columns(
            recovery_rate=_ratio(pl.col("recovered_count"), pl.col("failed_count")),
        )
        .sort(_reason_rank(pl.col("reason_code")), "reason_code", "attempt")
    )


def data_quality(instr: pl.DataFrame, townships: Sequence[str], threshold: float) -> pl.DataFrame:
    """Per township: administrative failures against all its instructions; flagged above
    ``threshold`` (a share, 0–1)."""
    admin = (pl.col("status") == "FAILED") & pl.col("outcome").is_in(list(ADMIN_OUTCOMES))
    agg = instr.group_by("township").agg(
        pl.len().cast(pl.Int64).alias("instructions"),
        admin.sum().cast(pl.Int64).alias("admin_failures"),
        *[
            ((pl.col("status") == "FAILED") & (pl.col("outcome") == o))
            .sum()
            .cast(pl.Int64)
            .alias(o)
            for o in ADMIN_OUTCOMES
        ],
    )
    counts = ("instructions", "admin_failures", *ADMIN_OUTCOMES)
    share = _ratio(pl.col("admin_failures"), pl.col("instructions"))
    return (
        _order_frame(townships, "township")
        .join(agg, on="township", how="left")
        .with_columns(pl.col(counts).fill_null(0).cast(pl.Int64))
        .sort("_order")
        .select("township", *counts, share=share)
        .with_columns(flagged=(pl.col("share") > threshold).fill_null(False))
    )


# -- exception lists -------------------------------------------------------------------------


LIST_COLUMNS: tuple[str, ...] = (
    "township",
    "village",
    "person_id",
    "name",
    "amount_fen",
    "reason_code",
    "reason_zh",
    "action_zh",
    "attempts",
    "bank_code",
    "batch_id",
    "instruction_id",
    "account_no_masked",
)


_INSTRUCTION_COLUMNS = ("bank_code", "batch_id", "instruction_id", "account_no_masked")


def _list_frame(
    frame: pl.DataFrame,
    extra: Sequence[str] = (),
    drop: Sequence[str] = (),
    texts: Mapping[str, Reason] = FAILURE_TEXTS,
) -> pl.DataFrame:
    """Standard list columns but ``drop`` (missing ones null), then ``extra``; reason texts
    from the registry."""
    columns = [c for c in LIST_COLUMNS if c not in drop]
    missing = [c for c in columns if c not in frame.columns]
    dtypes = {"amount_fen": pl.Int64, "attempts": pl.Int64}
    full = frame.with_columns([pl.lit(None, dtypes.get(c, pl.String)).alias(c) for c in missing])
    return full.with_columns(
        reason_zh=reason_zh(pl.col("reason_code"), texts),
        action_zh=_action_zh(pl.col("reason_code"), texts),
    ).select(*columns, *[c for c in extra if c not in columns])


def _township_rank(townships: Sequence[str]) -> pl.Expr:
    """Configuration order of the township column; other townships after, by name."""
    names = list(townships)
    return pl.col("township").replace_strict(
        names, list(range(len(names))), default=len(names), return_dtype=pl.Int64
    )


# The leading columns of every list about one instruction (review, refunds, overdue).
_INSTRUCTION_LIST = (
    "township",
    "village",
    "person_id",
    "name",
    "amount_fen",
    "attempts",
    "bank_code",
    "batch_id",
    "instruction_id",
)


def exception_lists(
    people: pl.DataFrame, inputs: ReportInputs, townships: Sequence[str]
) -> dict[str, pl.DataFrame]:
    """failed, review, refunds, overdue and rejected lists; accounts masked, amounts in fen."""
    rank = _township_rank(townships)
    order: list[Any] = [rank, "township", "person_id"]
    instr = inputs.instructions
    last_instr = {
        "bank_code": "bank_code",
        "batch_id": "last_batch_id",
        "instruction_id": "last_instruction_id",
    }
    failed = people.filter(pl.col("state") == "FAILED").select(
        "township",
        "village",
        "person_id",
        "name",
        "attempts",
        amount_fen="amount_due_fen",
        reason_code="last_reason",
        account_no_masked=mask_account(pl.col("last_account_no")),
        **last_instr,
    )
    who = people.select("person_id", "village", "name", "attempts", resident_state="state")
    review = (
        instr.filter(pl.col("status") == "REVIEW")
        .join(who, on="person_id", how="left")
        .select(
            *_INSTRUCTION_LIST,
            "debited_fen",
            "resident_state",
            reason_code=pl.col("outcome").fill_null(NO_REASON),
            account_no_masked=mask_account(pl.col("account_no")),
        )
    )
    refunds = (
        inputs.refunds.join(
            instr.select("instruction_id", "township", "batch_id", "bank_code", "account_no"),
            on="instruction_id",
            how="left",
        )
        .join(who, on="person_id", how="left")
        .select(
            *_INSTRUCTION_LIST,
            "cause",
            reason_code=pl.lit("DOUBLE_PAYMENT"),
            account_no_masked=mask_account(pl.col("account_no")),
        )
    )
    overdue = inputs.overdue.join(
        people.select("person_id", "village", "name"), on="person_id", how="left"
    ).select(
        *_INSTRUCTION_LIST[:4],
        "reason_code",
        "bank_code",
        "batch_id",
        "instruction_id",
        "amount_fen",
        account_no_masked=mask_account(pl.col("account_no")),
        attempts="attempt",
    )
    rejected = people.filter(pl.col("state") == "REJECTED").select(
        "township",
        "village",
        "person_id",
        "name",
        "attempts",
        amount_fen="amount_due_fen",
        reason_code="last_reason",
    )
    return {
        "failed": _list_frame(failed).sort(order),
        "review": _list_frame(review, ("debited_fen", "resident_state")).sort(
            [*order, "instruction_id"]
        ),
        "refunds": _list_frame(refunds, ("cause",)).sort([*order, "instruction_id", "cause"]),
        "overdue": _list_frame(overdue).sort([*order, "instruction_id"]),
        # A rejected resident was never instructed: no bank, batch or account to show.
        "rejected": _list_frame(rejected, drop=_INSTRUCTION_COLUMNS, texts=REJECTION_TEXTS).sort(
            rank, "township", _reason_rank(pl.col("reason_code"), _REJECTION_ORDER), "person_id"
        ),
    }


# -- the whole report ------------------------------------------------------------------------


def compute_figures(
    inputs: ReportInputs,
    townships: Sequence[str],
    banks: Sequence[str],
    admin_threshold: float,
) -> ReportFigures:
    """All figures of the report: ``townships`` and ``banks`` give the display order (other
    names the ledger knows follow, sorted); ``admin_threshold`` flags data quality."""
    people = resident_frame(inputs)
    township_names = scope_order(townships, people["township"].unique().to_list())
    bank_seen = [b for b in people["bank_code"].unique().to_list() if b is not None]
    bank_names = scope_order(banks, bank_seen)
    instr = inputs.instructions
    lists = exception_lists(people, inputs, townships)
    return ReportFigures(
        period=inputs.period,
        townships=_scope_table(people, "township", township_names),
        banks=_scope_table(people, "bank_code", bank_names),
        totals=_totals(people),
        reasons=_reasons(people),
        instruction_status=_instruction_status(instr),
        retry_recovery=retry_recovery(instr),
        data_quality=data_quality(instr, township_names, admin_threshold),
        admin_threshold=admin_threshold,
        **lists,
    )


# -- summary.json shape ----------------------------------------------------------------------


def _rate(value: float | None) -> float | None:
    # Rounded so the JSON text is short and stable; the ratio is for display only.
    return None if value is None else round(value, 6)


def scope_summary(row: Mapping[str, Any]) -> dict[str, Any]:
    """One table row → {figure: {"count", "amount_fen"}, ..., "collection_rate": r}."""
    out: dict[str, Any] = {f: S.figure(row[f"{f}_count"], row[f"{f}_fen"]) for f in FIGURES}
    out["collection_rate"] = _rate(row["collection_rate"])
    return out


def _reason_dicts(reasons: pl.DataFrame, scope: str, name: str) -> dict[str, Any]:
    part = reasons.filter((pl.col("scope") == scope) & (pl.col("name") == name))
    out: dict[str, Any] = {}
    for kind in ("failed", "rejected"):
        rows = part.filter(pl.col("kind") == kind).select("reason_code", "count", "amount_fen")
        out[f"{kind}_reasons"] = {code: S.figure(n, fen) for code, n, fen in rows.iter_rows()}
    return out


def _status_dict(status: pl.DataFrame, scope: str, name: str) -> dict[str, Any]:
    part = status.filter((pl.col("scope") == scope) & (pl.col("name") == name))
    got = {
        s: S.figure(n, fen)
        for s, n, fen in part.select("status", "count", "amount_fen").iter_rows()
    }
    figs = {
        s.lower(): got.get(s, S.figure()) for s in ("SUCCEEDED", "FAILED", "REVIEW", "AWAITING")
    }
    return {"instructed": S.add(figs.values()), **figs}


def summary_sections(figs: ReportFigures) -> dict[str, Any]:
    """The figure sections of summary.json: townships, banks, totals, retry_recovery,
    exceptions (a loop over townships and banks, never over residents)."""
    dq = {r["township"]: r for r in figs.data_quality.iter_rows(named=True)}
    townships: dict[str, Any] = {}
    for row in figs.townships.iter_rows(named=True):
        name = row["name"]
        q = dq[name]
        townships[name] = {
            **scope_summary(row),
            **_reason_dicts(figs.reasons, "township", name),
            "instructions": _status_dict(figs.instruction_status, "township", name),
            "data_quality": {
                "instructions": q["instructions"],
                "admin_failures": q["admin_failures"],
                "share": _rate(q["share"]),
                "threshold": figs.admin_threshold,
                "flagged": q["flagged"],
            },
        }
    banks: dict[str, Any] = {}
    for row in figs.banks.iter_rows(named=True):
        banks[row["name"]] = {
            **scope_summary(row),
            **_reason_dicts(figs.reasons, "bank", row["name"]),
            "instructions": _status_dict(figs.instruction_status, "bank", row["name"]),
        }
    totals = {
        **scope_summary(figs.totals.row(0, named=True)),
        **_reason_dicts(figs.reasons, "total", "合计"),
        "instructions": _status_dict(figs.instruction_status, "total", "合计"),
    }
    recovery = [
        {
            "reason_code": r["reason_code"],
            "attempt": r["attempt"],
            "failed": S.figure(r["failed_count"], r["failed_fen"]),
            "recovered": S.figure(r["recovered_count"], r["recovered_fen"]),
        }
        for r in figs.retry_recovery.iter_rows(named=True)
    ]
    exceptions = {
        name: S.figure(frame.height, int(frame["amount_fen"].sum() or 0))
        for name, frame in (
            ("failed", figs.failed),
            ("review", figs.review),
            ("refunds", figs.refunds),
            ("overdue", figs.overdue),
            ("rejected", figs.rejected),
        )
    }
    return {
        "townships": townships,
        "banks": banks,
        "totals": totals,
        "retry_recovery": recovery,
        "exceptions": exceptions,
    }
