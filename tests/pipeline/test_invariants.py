"""The invariant checker, the oracle of the crash and scenario tests, reports what is broken."""

from __future__ import annotations

from typing import Any

from premium_debit.ledger.invariants import broken_invariants


def test_invariants__planted_violations_are_each_reported(campaign: Any) -> None:
    """A sound ledger has none; each planted violation is named with an example."""
    assert campaign.build() == 0
    assert campaign.broken() == []
    pid = campaign.pid("ok_nbcb_0")
    with campaign.ledger() as ledger, ledger.write() as w:
        db = w._db
        # An instruction with no history row naming it.
        db.execute(
            "INSERT INTO instructions (instruction_id, batch_id, seq, person_id, period, township,"
            " attempt, account_no, name, amount_fen, status) VALUES ('2027NBCB2026112901000099',"
            " '2027NBCB2026112901', 99, 'P', 2027, 'x', 1, 'a', 'n', 1, 'FAILED')"
        )
        # A collected resident without any success.
        db.execute("UPDATE residents SET state = 'COLLECTED' WHERE person_id = ?", [pid])
        # A batch whose control total disagrees with its instructions.
        db.execute("UPDATE batches SET total_fen = total_fen + 1 WHERE batch_id LIKE '%ICBC%'")
    with campaign.ledger() as ledger:
        broken = "\n".join(broken_invariants(ledger))
    assert (
        "every instruction's resident has a transition naming it: 2027NBCB2026112901000099"
        in broken
    )
    assert f"COLLECTED resident has a recorded success: {pid}" in broken
    assert "batch count and total equal its instructions: 2027ICBC2026112901" in broken
    assert "an awaiting instruction's resident is AWAITING_RESULT" in broken
