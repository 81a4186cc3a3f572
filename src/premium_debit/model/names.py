"""Name normalisation and validity (SPEC §2.1, §3)."""

from __future__ import annotations

import polars as pl

# Full-width ASCII U+FF01–U+FF5E folds to half-width U+0021–U+007E.
_FULLWIDTH = [chr(c) for c in range(0xFF01, 0xFF5F)]
_HALFWIDTH = [chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)]
# The middle dots of minority and foreign names, typed many ways, unified to U+00B7.
_DOTS = ["\u2022", "\u2027", "\u30fb", "\uff65"]
_SPACE = r"^[\s\u3000\ufeff]+|[\s\u3000\ufeff]+$"


def normalise_name(col: pl.Expr) -> pl.Expr:
    """Fold full-width ASCII, unify middle dots, strip surrounding white space — in that order."""
    folded = col.str.replace_many(_FULLWIDTH + _DOTS, _HALFWIDTH + ["\u00b7"] * len(_DOTS))
    return folded.str.replace_all(_SPACE, "")


def name_valid(normalised: pl.Expr) -> pl.Expr:
    """Non-empty, no control characters and no ``|`` (the pipe format's delimiter)."""
    return (
        normalised.is_not_null()
        & (normalised.str.len_chars() > 0)
        & ~normalised.str.contains(r"[\p{Cc}|]")
    ).fill_null(False)
