"""Resident ID (GB 11643), Luhn, money and name rules against independent oracles."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.cn import ric

from premium_debit.model.ids import PROVINCES, luhn_valid, person_id_valid
from premium_debit.model.money import fen_expr
from premium_debit.model.names import normalise_name

AS_OF = date(2026, 11, 29)


def _oracle_id(value: str) -> bool:
    """SPEC §2.1 by other means: stdnum's check digit, datetime's calendar, the province list."""
    if len(value) != 18 or not value[:17].isdigit() or value[17] not in "0123456789X":
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return (
        value[:2] in PROVINCES
        and date(1900, 1, 1) <= born <= AS_OF
        and ric.calc_check_digit(value) == value[17]  # stdnum takes the full 18 characters
    )


def _check(values: list[str], expr: object, oracle: object) -> None:
    got = pl.DataFrame({"v": values}, schema={"v": pl.String}).select(expr)["v"].to_list()
    assert got == [oracle(v) for v in values]  # type: ignore[operator]


valid_ids = st.builds(
    lambda prov, region, born, seq: (
        (body := f"{prov}{region:04d}{born:%Y%m%d}{seq:03d}") + ric.calc_check_digit(body + "0")
    ),
    st.sampled_from(sorted(PROVINCES)),
    st.integers(0, 9999),
    st.dates(date(1900, 1, 1), AS_OF),
    st.integers(0, 999),
)


def _corrupt(value: str, pos: int, char: str) -> str:
    return value[:pos] + char + value[pos + 1 :]


@settings(max_examples=300, deadline=None)
@given(st.lists(valid_ids, min_size=1, max_size=30), st.data())
def test_person_id__valid_and_corrupted_agree_with_oracle(
    ids: list[str], data: st.DataObject
) -> None:
    """Generated IDs and one-character corruptions of them are judged exactly as the oracle."""
    corrupted = [
        _corrupt(v, data.draw(st.integers(0, 17)), data.draw(st.sampled_from("0123456789Xx")))
        for v in ids
    ]
    values = ids + corrupted + [v[:17] for v in ids] + [v + "0" for v in ids]
    _check(values, person_id_valid(pl.col("v"), AS_OF).alias("v"), _oracle_id)
    assert all(_oracle_id(v) for v in ids)


def test_person_id__edges() -> None:
    """Province codes, impossible and future birth dates, and the X check character."""
    cases = [
        "11010519491231002X",
        "11010519491231002x",
        "99010519491231002X",
        "110105" + (AS_OF + timedelta(days=1)).strftime("%Y%m%d") + "0010",
        "110105190002290010",
        "110105200002290010",
        "110105189912310010",
    ]
    _check(cases, person_id_valid(pl.col("v"), AS_OF).alias("v"), _oracle_id)


digits = st.text(alphabet="0123456789", min_size=14, max_size=21)


@settings(max_examples=300, deadline=None)
@given(st.lists(digits, min_size=1, max_size=40))
def test_luhn__agrees_with_stdnum(numbers: list[str]) -> None:
    """Random digit strings and their Luhn-completed forms: 16–19 digits and stdnum-valid."""
    completed = [n[:-1] + luhn.calc_check_digit(n[:-1]) for n in numbers]
    values = numbers + completed + ["62220212345678901a", ""]

    def oracle(v: str) -> bool:
        return v.isdigit() and 16 <= len(v) <= 19 and luhn.is_valid(v)

    _check(values, luhn_valid(pl.col("v")).alias("v"), oracle)


def _oracle_fen(text: str) -> int | None:
    import re

    if (
        not re.fullmatch(r"[0-9]+(\.[0-9]{1,2})?", text)
        or len(text.split(".", maxsplit=1)[0].lstrip("0")) > 15
    ):
        return None
    try:
        return int(Decimal(text) * 100)
    except InvalidOperation:
        return None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.decimals(0, 10**6, places=2).map(str),
            st.text(alphabet="0123456789.-eE O", max_size=10),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_money__fen_exact_like_decimal(texts: list[str]) -> None:
    """Yuan text becomes exactly Decimal(text)*100 fen, or null when it breaks the pattern."""
    _check(texts, fen_expr(pl.col("v")).alias("v"), _oracle_fen)


def test_money__issue_examples_rejected() -> None:
    """The issue's examples: 540.001, -5.00, 54O.00 and 1e3 are not amounts."""
    _check(
        ["540.001", "-5.00", "54O.00", "1e3", "540.1", "0"],
        fen_expr(pl.col("v")).alias("v"),
        _oracle_fen,
    )


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12)
)
def test_names__fullwidth_folds_to_halfwidth(text: str) -> None:
    """A name typed in full-width ASCII normalises to the same name typed half-width."""
    full = "".join(chr(ord(c) + 0xFEE0) for c in text)
    frame = pl.DataFrame({"a": [text, "\u3000" + full + " "]})
    a, b = frame.select(normalise_name(pl.col("a")))["a"].to_list()
    assert a == b == text.strip()
