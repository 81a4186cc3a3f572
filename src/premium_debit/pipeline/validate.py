"""Step 1 of build: the due records' own rules, SPEC §3 rows 1–8.

Frames in, frame out: every due record keeps its row and gains normalised columns and ``reason``
(the first rule that applies, or null). Rejections are rows, never exceptions.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from premium_debit.config import Config
from premium_debit.model.ids import normalise_person_id, person_id_valid
from premium_debit.model.money import fen_expr
from premium_debit.model.names import name_valid, normalise_name


def normalise_due(due: pl.DataFrame) -> pl.DataFrame:
    """Add ``pid`` (upper-cased ID), ``name_norm`` and ``parsed_fen`` (null when malformed)."""
    return due.with_columns(
        pid=normalise_person_id(pl.col("person_id")),
        name_norm=normalise_name(pl.col("name")),
        parsed_fen=fen_expr(pl.col("amount_due")),
    )


def due_rules(cfg: Config, as_of: date) -> tuple[tuple[str, str, pl.Expr], ...]:
    """(reason code, field, *failing* predicate) of rows 1–6, in precedence order."""
    period = str(cfg.campaign.period)
    return (
        ("INVALID_PERSON_ID", "person_id", ~person_id_valid(pl.col("pid"), as_of)),
        ("INVALID_NAME", "name", ~name_valid(pl.col("name_norm"))),
        (
            "INVALID_AMOUNT",
            "amount_due",
            (
                pl.col("parsed_fen").is_null()
                | (pl.col("parsed_fen") > cfg.campaign.max_amount_fen)
            ).fill_null(True),
        ),
        (
            "UNKNOWN_TOWNSHIP",
            "township",
            ~pl.col("township").is_in(cfg.township_names).fill_null(False),
        ),
        (
            "UNKNOWN_CATEGORY",
            "category",
            ~pl.col("category").is_in(list(cfg.categories.names)).fill_null(False),
        ),
        ("PERIOD_MISMATCH", "period", (pl.col("period") != period).fill_null(True)),
    )


def first_that_holds(cases: list[tuple[str, pl.Expr]]) -> pl.Expr:
    """The label of the first predicate that holds, null when none does."""
    out: pl.Expr = pl.lit(None, dtype=pl.String)
    for label, predicate in reversed(cases):
        out = pl.when(predicate).then(pl.lit(label)).otherwise(out)
    return out


def validate_due(due: pl.DataFrame, cfg: Config, as_of: date) -> pl.DataFrame:
    """Rows 1–8 of SPEC §3. Adds ``pid``, ``name_norm``, ``amount_fen`` (0 when the amount is
    invalid, as every figure must count it), ``reason`` and ``reason_field``."""
    frame = normalise_due(due)
    rules = due_rules(cfg, as_of)
    failing = [pred.alias(f"_fail_{code}") for code, _, pred in rules]
    frame = frame.with_columns(failing)
    fail_cols = [pl.col(f"_fail_{code}") for code, _, _ in rules]
    passed_1_6 = ~pl.any_horizontal(fail_cols)
    # Row 7: every copy of a person_id that appears more than once among records passing 1–6,
    # across all the due lists of this command.
    duplicate = passed_1_6 & (passed_1_6.cast(pl.Int32).sum().over("pid") > 1)
    # (code, field, predicate) in precedence order: the first that holds decides.
    checks = [
        *((code, fld, col) for (code, fld, _), col in zip(rules, fail_cols, strict=True)),
        ("DUPLICATE_DUE", "person_id", duplicate),
        ("ZERO_DUE", "amount_due", pl.col("parsed_fen") == 0),
    ]
    reason = first_that_holds([(c, p) for c, _, p in checks])
    field = first_that_holds([(f, p) for _, f, p in checks])
    amount_ok = ~pl.col("_fail_INVALID_AMOUNT")
    return frame.with_columns(
        reason=reason,
        reason_field=field,
        amount_fen=pl.when(amount_ok).then(pl.col("parsed_fen")).otherwise(0),
    ).drop([f"_fail_{code}" for code, _, _ in rules] + ["parsed_fen"])
