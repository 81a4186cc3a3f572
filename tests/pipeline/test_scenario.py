"""A campaign over several business days: build, results, retry waits, paid elsewhere, refunds."""

from __future__ import annotations

import json
from typing import Any

import polars as pl


def test_scenario__retry_waits_then_paid_elsewhere_makes_refunds(campaign: Any) -> None:
    """Day 0 build and results; day 1 retry held; day 3 retry issued; day 4 paid-elsewhere list;
    then the retry's results: final states and the refund list are exact."""
    x, y, z = (campaign.pid(c) for c in ("ok_nbcb_2", "ok_icbc_1", "ok_fhrc_0"))
    # Day 0: build and the bank's answer the same day; x and y lack funds.
    assert campaign.build(as_of="2026-11-29") == 0
    files = campaign.answer(
        {x: "INSUFFICIENT_FUNDS", y: "INSUFFICIENT_FUNDS"}, processed="2026-11-29"
    )
    assert campaign.cli("reconcile", *files, as_of="2026-11-29") == 0
    assert campaign.resident(x)["state"] == "RETRY_PENDING"

    # Day 1: too soon (min_days_between = 3): nothing is written.
    assert campaign.cli("retry", as_of="2026-11-30") == 0
    with campaign.ledger() as ledger:
        assert ledger.scalar("SELECT COUNT(*) FROM batches WHERE kind = 'retry'") == 0

    # Day 3: both retried, in new batches of their own banks.
    assert campaign.cli("retry", as_of="2026-12-02") == 0
    with campaign.ledger() as ledger:
        retry_batches = ledger.batches().filter(pl.col("kind") == "retry")
    assert retry_batches["batch_id"].to_list() == ["2027ICBC2026120201", "2027NBCB2026120201"]
    assert json.loads(retry_batches["policy"][0]) == {"max_attempts": 3, "min_days_between": 3}
    assert (campaign.resident(x)["state"], campaign.resident(x)["attempts"]) == (
        "AWAITING_RESULT",
        2,
    )
    assert campaign.cli("retry", as_of="2026-12-02") == 0  # again the same day: nothing new
    with campaign.ledger() as ledger:
        assert ledger.scalar("SELECT COUNT(*) FROM batches WHERE kind = 'retry'") == 2

    # Day 4: x (awaiting its retry) and z (collected on day 0) paid at the counter.
    paid = campaign.root / "paid_day4.csv"
    paid.write_text(
        "person_id,period,amount,channel,paid_at\n"
        f"{x},2027,540.00,COUNTER,2026-12-03\n{z},2027,540.00,APP,2026-12-03\n",
        "utf-8",
    )
    assert campaign.cli("paid", paid, as_of="2026-12-03") == 0
    assert campaign.resident(x)["state"] == "PAID_ELSEWHERE"
    assert campaign.resident(z)["state"] == "COLLECTED"

    # The retry batches come back: both succeed.
    files = campaign.answer(processed="2026-12-03")
    assert len(files) == 2
    assert campaign.cli("reconcile", *files, as_of="2026-12-03") == 0
    assert campaign.resident(x)["state"] == "PAID_ELSEWHERE"
    assert campaign.resident(y)["state"] == "COLLECTED"
    with campaign.ledger() as ledger:
        refunds = ledger.refunds(2027).select("person_id", "cause", "amount_fen").sort("person_id")
    assert refunds.rows() == sorted([(x, "PAID_ELSEWHERE", 54000), (z, "PAID_ELSEWHERE", 54000)])
    # Instruction outcomes keep their own history: x failed once, then succeeded.
    with campaign.ledger() as ledger:
        mine = ledger.instructions(period=2027).filter(pl.col("person_id") == x)
    assert mine.sort("attempt")["status"].to_list() == ["FAILED", "SUCCEEDED"]
    assert campaign.broken() == []
