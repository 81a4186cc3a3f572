"""The reason registry: one text per code, every code of the spec present."""

from __future__ import annotations

from premium_debit.model import reasons as R


def test_reasons__shared_codes_have_one_text() -> None:
    """A code in two tables (pre-debit and bank outcome) carries the same text and action."""
    pre = {r.code: r for r in R.PRE_DEBIT}
    for outcome in R.OUTCOMES:
        if outcome.code in pre:
            assert (outcome.zh, outcome.action_zh) == (
                pre[outcome.code].zh,
                pre[outcome.code].action_zh,
            )


def test_reasons__spec_section_3_order_and_texts() -> None:
    """Pre-debit codes are in SPEC §3 precedence order with the spec's Chinese descriptions."""
    assert R.PRE_DEBIT_CODES[:8] == (
        "INVALID_PERSON_ID",
        "INVALID_NAME",
        "INVALID_AMOUNT",
        "UNKNOWN_TOWNSHIP",
        "UNKNOWN_CATEGORY",
        "PERIOD_MISMATCH",
        "DUPLICATE_DUE",
        "ZERO_DUE",
    )
    assert R.PRE_DEBIT_CODES[-3:] == ("AMBIGUOUS_ACCOUNT", "NAME_NOT_ENCODABLE", "NAME_TOO_LONG")
    assert len(R.PRE_DEBIT) == 26
    assert R.reason("NAME_TOO_LONG").zh == "姓名超出银行文件字段长度"
    assert {"INSUFFICIENT_FUNDS", "LIMIT_EXCEEDED", "BANK_SYSTEM_ERROR"} == R.RETRYABLE_OUTCOMES


def test_reasons__default_codes_cover_every_outcome() -> None:
    """Both shipped code maps name every §4.3 outcome exactly once."""
    for codes in R.DEFAULT_CODES.values():
        assert sorted(codes.values()) == sorted(R.OUTCOME_CODES)
