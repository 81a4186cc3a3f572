"""Exception lists (SPEC §9): UTF-8 with BOM so they open in Excel, a fixed column order, an
explicit sort, masked accounts, and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from premium_debit.model.reasons import REASONS
from premium_debit.workspace import write_atomic

COLUMNS = (
    "township",
    "village",
    "person_id",
    "name",
    "period",
    "amount",
    "reason_code",
    "reason_zh",
    "action_zh",
    "actor",
    "batch_id",
    "instruction_id",
    "bank_code",
    "account_no_masked",
    "source_file",
    "source_line",
)

# Text starting with one of these runs as a formula in a spreadsheet (CSV injection).
_FORMULA_START = r"^[=+\-@\t\r]"


def neutralise(col: pl.Expr) -> pl.Expr:
    """Prefix a quote to text a spreadsheet would run as a formula (keeps the column's name)."""
    return (
        pl.when(col.str.contains(_FORMULA_START))
        .then(pl.concat_str([pl.lit("'"), col]))
        .otherwise(col)
        .name.keep()
    )


def reason_columns(code: pl.Expr) -> list[pl.Expr]:
    """The Chinese description, action and actor of each reason code, from the one registry."""
    codes = list(REASONS)
    return [
        code.replace_strict(codes, [REASONS[c].zh for c in codes], default=None).alias("reason_zh"),
        code.replace_strict(codes, [REASONS[c].action_zh for c in codes], default=None).alias(
            "action_zh"
        ),
        code.replace_strict(codes, [REASONS[c].actor.value for c in codes], default=None).alias(
            "actor"
        ),
    ]


def to_csv_bytes(frame: pl.DataFrame, extra: tuple[str, ...] = ()) -> bytes:
    """Render an exception list: the standard columns (missing ones empty), then ``extra``."""
    extra = tuple(c for c in extra if c not in COLUMNS)
    cols = [c for c in COLUMNS if c not in frame.columns]
    full = frame.with_columns([pl.lit(None, pl.String).alias(c) for c in cols])
    if "reason_zh" in cols:
        full = full.drop("reason_zh", "action_zh", "actor").with_columns(
            reason_columns(pl.col("reason_code"))
        )
    ordered = full.select([*COLUMNS, *extra]).with_columns(
        [neutralise(pl.col(c).cast(pl.String)) for c in (*COLUMNS, *extra)]
    )
    body = ordered.write_csv(line_terminator="\r\n")
    return b"\xef\xbb\xbf" + body.encode("utf-8")


def write_exceptions(path: Path, frame: pl.DataFrame, extra: tuple[str, ...] = ()) -> Path:
    write_atomic(path, to_csv_bytes(frame, extra))
    return path
