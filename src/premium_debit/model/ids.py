"""Resident ID (GB 11643, SPEC §2.1) and account number (Luhn) checks as polars expressions."""

from __future__ import annotations

from datetime import date

import polars as pl

# GB/T 2260 province-level codes (SPEC §2.1); the rest of the region code is not checked because
# codes are renamed over time and old IDs stay valid.
PROVINCES: frozenset[str] = frozenset(
    [str(n) for n in range(11, 16)]
    + [str(n) for n in range(21, 24)]
    + [str(n) for n in range(31, 38)]
    + [str(n) for n in range(41, 47)]
    + [str(n) for n in range(50, 55)]
    + [str(n) for n in range(61, 66)]
    + ["71", "81", "82", "83"]
)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"  # ISO 7064 MOD 11-2: index = weighted sum mod 11
_EARLIEST_BIRTH = date(1900, 1, 1)


def normalise_person_id(col: pl.Expr) -> pl.Expr:
    """Upper-case the check character (`x` → `X`); white space is stripped by the reader."""
    return col.str.to_uppercase()


def person_id_valid(col: pl.Expr, as_of: date) -> pl.Expr:
    """True when ``col`` (already normalised) is a valid 18-character resident ID on ``as_of``."""
    shape = col.str.contains(r"^[0-9]{17}[0-9X]$")
    province = col.str.slice(0, 2).is_in(sorted(PROVINCES))
    birth = col.str.slice(6, 8).str.strptime(pl.Date, "%Y%m%d", strict=False)
    birth_ok = birth.is_between(pl.lit(_EARLIEST_BIRTH), pl.lit(as_of), closed="both")
    total = pl.sum_horizontal(
        [
            col.str.slice(i, 1).cast(pl.Int64, strict=False).fill_null(0) * w
            for i, w in enumerate(_WEIGHTS)
        ]
    )
    expected = pl.lit(_CHECK_CHARS).str.slice(total % 11, 1)
    check_ok = col.str.slice(17, 1) == expected
    return (shape & province & birth_ok & check_ok).fill_null(False)


def luhn_valid(col: pl.Expr) -> pl.Expr:
    """True when ``col`` is 16–19 digits and passes the Luhn check (bank card / account number).

    Leading zeros do not change a Luhn sum, so every number is padded to 19 digits and each
    digit is read at a fixed position: position 18 is the check digit, and every second digit
    to its left is doubled.
    """
    shape = col.str.contains(r"^[0-9]{16,19}$")
    padded = col.str.pad_start(19, "0")
    terms = []
    for i in range(19):
        d = padded.str.slice(i, 1).cast(pl.UInt8, strict=False).fill_null(0).cast(pl.Int32)
        if (18 - i) % 2 == 1:
            d = d * 2 - (d >= 5).cast(pl.Int32) * 9  # doubled digit, digits summed
        terms.append(d)
    return (shape & (pl.sum_horizontal(terms) % 10 == 0)).fill_null(False)


def mask_account(col: pl.Expr) -> pl.Expr:
    """First 6 and last 4 digits kept, the middle starred (SPEC §9); short values fully starred."""
    n = col.str.len_chars()
    return (
        pl.when(n >= 11)
        .then(
            pl.concat_str(
                [col.str.slice(0, 6), pl.lit("*").repeat_by(n - 10).list.join(""), col.str.tail(4)]
            )
        )
        .otherwise(pl.lit("*").repeat_by(n).list.join(""))
    )


def mask_account_text(value: str) -> str:
    """Scalar twin of ``mask_account`` for log fields and messages."""
    if len(value) >= 11:
        return value[:6] + "*" * (len(value) - 10) + value[-4:]
    return "*" * len(value)
