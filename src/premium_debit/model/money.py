"""Money is integer fen (分) end to end; yuan text is parsed exactly, never through floats."""

from __future__ import annotations

import re

import polars as pl

# SPEC §2.1: the amount text rule.
AMOUNT_PATTERN = r"^[0-9]+(\.[0-9]{1,2})?$"
_AMOUNT_RE = re.compile(AMOUNT_PATTERN)
# Longest integer part we accept before the max_amount check; keeps Int64 far from overflow.
_MAX_INT_DIGITS = 15


def parse_fen(text: str) -> int | None:
    """Exact yuan text → fen, or None when the text breaks the pattern (scalar, for config)."""
    if not _AMOUNT_RE.match(text):
        return None
    whole, _, frac = text.partition(".")
    if len(whole.lstrip("0")) > _MAX_INT_DIGITS:
        return None
    return int(whole) * 100 + int((frac + "00")[:2])


def fen_expr(text: pl.Expr) -> pl.Expr:
    """Yuan text → Int64 fen, null where the text breaks the pattern (vectorised)."""
    # Leading zeros are valid ("0540.00"); strip them so the digit limit counts real digits.
    stripped = text.str.replace(r"^0+([0-9])", "$1")
    parts = stripped.str.extract_groups(r"^([0-9]{1,15})(?:\.([0-9]{1,2}))?$")
    whole = parts.struct.field("1").cast(pl.Int64, strict=False)
    frac = parts.struct.field("2").fill_null("").str.pad_end(2, "0").cast(pl.Int64, strict=False)
    return whole * 100 + frac


def yuan_text(fen: int) -> str:
    """Fen → yuan with exactly two decimals: 54000 → "540.00"; negative keeps its sign."""
    sign = "-" if fen < 0 else ""
    q, r = divmod(abs(fen), 100)
    return f"{sign}{q}.{r:02d}"


def yuan_expr(fen: pl.Expr) -> pl.Expr:
    """Int64 fen → yuan text with two decimals (vectorised, non-negative amounts)."""
    return pl.concat_str(
        [
            (fen // 100).cast(pl.String),
            pl.lit("."),
            (fen % 100).cast(pl.String).str.pad_start(2, "0"),
        ]
    )
