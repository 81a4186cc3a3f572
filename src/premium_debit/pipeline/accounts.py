"""Step 3 of build: choose each resident's card account, SPEC §2.2 and §3 rows 15–26.

A join of the candidates with the registry and one aggregation per resident; the reasons are
checked in the table's order, the first that applies decides.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from premium_debit.formats.encoding import byte_len_expr, encodable_expr
from premium_debit.model.ids import luhn_valid, normalise_person_id
from premium_debit.model.names import normalise_name
from premium_debit.pipeline.profiles import BankProfile

_ACCOUNT_STATUS = {
    "ACTIVE": "ACTIVE",
    "正常": "ACTIVE",
    "INACTIVE": "INACTIVE",
    "未激活": "INACTIVE",
    "FROZEN": "FROZEN",
    "冻结": "FROZEN",
    "CLOSED": "CLOSED",
    "销户": "CLOSED",
}
_CARD_NORMAL = ["NORMAL", "正常"]
_AUTHORIZED = ["Y", "是"]


def prepare_registry(registry: pl.DataFrame, banks: Mapping[str, BankProfile]) -> pl.DataFrame:
    """Normalise the registry snapshot and flag each row's usability (SPEC §2.2).

    An account status outside the four known values counts as not activated, and an
    authorisation other than Y/是 as not authorised: neither can make a row usable.
    """
    status = pl.col("account_status").replace_strict(_ACCOUNT_STATUS, default="UNKNOWN")
    frame = registry.select(
        pid=normalise_person_id(pl.col("person_id")),
        reg_name_norm=normalise_name(pl.col("name")),
        account_name=pl.col("name").str.replace_all(r"^[\s\u3000]+|[\s\u3000]+$", ""),
        bank_code=pl.col("bank_code"),
        account_no=pl.col("account_no"),
        card_normal=pl.col("card_status").is_in(_CARD_NORMAL).fill_null(False),
        status=status,
        authorized=pl.col("authorized").str.to_uppercase().is_in(_AUTHORIZED).fill_null(False),
        account_ok=luhn_valid(pl.col("account_no")),
        bank_ok=pl.col("bank_code").is_in(sorted(banks)).fill_null(False),
        reg_line=pl.col("source_line"),
    )
    return frame.with_columns(
        usable=pl.col("card_normal")
        & (pl.col("status") == "ACTIVE")
        & pl.col("authorized")
        & pl.col("account_ok")
        & pl.col("bank_ok")
    )


def match_accounts(
    candidates: pl.DataFrame, registry: pl.DataFrame, banks: Mapping[str, BankProfile]
) -> pl.DataFrame:
    """One row per candidate ``pid`` (unique) with ``reason`` (null = instructable) and the
    chosen ``bank_code``, ``account_no``, ``account_name``.

    ``candidates`` has ``pid`` and ``name_norm``; ``registry`` comes from ``prepare_registry``.
    Two usable rows naming the same bank account are one account, not an ambiguity.
    """
    joined = candidates.select("pid", "name_norm").join(
        registry.with_columns(in_registry=pl.lit(True)), on="pid", how="left"
    )
    in_reg = pl.col("in_registry").fill_null(False)
    name_match = in_reg & (pl.col("reg_name_norm") == pl.col("name_norm")).fill_null(False)
    normal = name_match & pl.col("card_normal")
    usable = normal & pl.col("usable")
    acct_key = pl.concat_str([pl.col("bank_code"), pl.lit(":"), pl.col("account_no")])
    per_person = (
        joined.sort("pid", "reg_line", nulls_last=True)
        .group_by("pid", maintain_order=True)
        .agg(
            has_row=in_reg.any(),
            any_name=name_match.any(),
            any_normal=normal.any(),
            n_usable=acct_key.filter(usable).n_unique(),
            not_activated=(normal & pl.col("status").is_in(["INACTIVE", "UNKNOWN"])).any(),
            frozen=(normal & (pl.col("status") == "FROZEN")).any(),
            closed=(normal & (pl.col("status") == "CLOSED")).any(),
            not_authorized=(normal & ~pl.col("authorized")).any(),
            bad_account=(normal & ~pl.col("account_ok")).any(),
            bank_missing=(normal & ~pl.col("bank_ok")).any(),
            bank_code=pl.col("bank_code").filter(usable).first(),
            account_no=pl.col("account_no").filter(usable).first(),
            account_name=pl.col("account_name").filter(usable).first(),
        )
    )
    none_usable = pl.col("n_usable") == 0
    reason = (
        pl.when(~pl.col("has_row"))
        .then(pl.lit("NO_CARD_ACCOUNT"))
        .when(~pl.col("any_name"))
        .then(pl.lit("NAME_MISMATCH"))
        .when(~pl.col("any_normal"))
        .then(pl.lit("CARD_NOT_USABLE"))
        .when(none_usable & pl.col("not_activated"))
        .then(pl.lit("ACCOUNT_NOT_ACTIVATED"))
        .when(none_usable & pl.col("frozen"))
        .then(pl.lit("ACCOUNT_FROZEN"))
        .when(none_usable & pl.col("closed"))
        .then(pl.lit("ACCOUNT_CLOSED"))
        .when(none_usable & pl.col("not_authorized"))
        .then(pl.lit("NOT_AUTHORIZED"))
        .when(none_usable & pl.col("bad_account"))
        .then(pl.lit("INVALID_ACCOUNT_NO"))
        .when(none_usable & pl.col("bank_missing"))
        .then(pl.lit("BANK_NOT_CONFIGURED"))
        .when(pl.col("n_usable") > 1)
        .then(pl.lit("AMBIGUOUS_ACCOUNT"))
        .otherwise(None)
    )
    matched = per_person.select(
        "pid", "bank_code", "account_no", "account_name", reason=reason
    ).with_columns(
        # An ambiguous choice names no account: the operator must not see a guess.
        [
            pl.when(pl.col("reason").is_null()).then(pl.col(c)).otherwise(None).alias(c)
            for c in ("bank_code", "account_no", "account_name")
        ]
    )
    return _check_bank_encoding(matched, banks)


def _check_bank_encoding(matched: pl.DataFrame, banks: Mapping[str, BankProfile]) -> pl.DataFrame:
    """Rows 25–26: the account's name must be encodable in the bank's encoding and fit the
    name field of a fixed-width layout."""
    reason = pl.col("reason")
    for code, bank in banks.items():
        this_bank = reason.is_null() & (pl.col("bank_code") == code).fill_null(False)
        name = pl.col("account_name")
        not_encodable = this_bank & ~encodable_expr(name, bank.encoding)
        new_reason = reason
        if bank.name_width is not None:
            # byte_len is null for an unencodable name, which the outer branch catches first.
            too_long = this_bank & (byte_len_expr(name, bank.encoding) > bank.name_width)
            new_reason = pl.when(too_long).then(pl.lit("NAME_TOO_LONG")).otherwise(reason)
        new_reason = pl.when(not_encodable).then(pl.lit("NAME_NOT_ENCODABLE")).otherwise(new_reason)
        matched = matched.with_columns(reason=new_reason)
    return matched
