"""The invariants of SPEC §6 as queries over the ledger: a list of broken ones, empty when sound.

The schema already makes 1, 2 and 6 impossible to break; these checks prove it after any
sequence of commands (including killed ones) and check what a constraint cannot express.
"""

from __future__ import annotations

from premium_debit.ledger.store import Ledger

_CHECKS: tuple[tuple[str, str], ...] = (
    (
        "§6.1 at most one instruction awaiting per resident and period",
        "SELECT person_id FROM instructions WHERE status = 'AWAITING' "
        "GROUP BY person_id, period HAVING COUNT(*) > 1",
    ),
    (
        "§6.2 at most one success per resident and period",
        "SELECT person_id FROM instructions WHERE status = 'SUCCEEDED' "
        "GROUP BY person_id, period HAVING COUNT(*) > 1",
    ),
    (
        "AWAITING_RESULT resident has exactly its awaiting instruction",
        "SELECT r.person_id FROM residents r WHERE r.state = 'AWAITING_RESULT' AND NOT EXISTS "
        "(SELECT 1 FROM instructions i WHERE i.person_id = r.person_id AND i.period = r.period "
        "AND i.status = 'AWAITING')",
    ),
    (
        "an awaiting instruction's resident is AWAITING_RESULT or PAID_ELSEWHERE",
        "SELECT i.instruction_id FROM instructions i JOIN residents r USING (person_id, period) "
        "WHERE i.status = 'AWAITING' AND r.state NOT IN ('AWAITING_RESULT', 'PAID_ELSEWHERE')",
    ),
    (
        "COLLECTED resident has a recorded success",
        "SELECT r.person_id FROM residents r WHERE r.state = 'COLLECTED' AND NOT EXISTS "
        "(SELECT 1 FROM instructions i WHERE i.person_id = r.person_id AND i.period = r.period "
        "AND i.status = 'SUCCEEDED')",
    ),
    (
        "REVIEW resident has an instruction in review",
        "SELECT r.person_id FROM residents r WHERE r.state = 'REVIEW' AND NOT EXISTS "
        "(SELECT 1 FROM instructions i WHERE i.person_id = r.person_id AND i.period = r.period "
        "AND i.status = 'REVIEW')",
    ),
    (
        "§6.3 batch count and total equal its instructions",
        "SELECT b.batch_id FROM batches b LEFT JOIN (SELECT batch_id, COUNT(*) n, "
        "SUM(amount_fen) fen FROM instructions GROUP BY batch_id) i USING (batch_id) "
        "WHERE i.n IS NULL OR b.count != i.n OR b.total_fen != i.fen",
    ),
    (
        "attempts equal the resident's instructions",
        "SELECT r.person_id FROM residents r JOIN (SELECT person_id, period, COUNT(*) n "
        "FROM instructions GROUP BY person_id, period) i USING (person_id, period) "
        "WHERE r.attempts != i.n",
    ),
    (
        "§6.6 every instruction's resident has a transition naming it",
        # EXCEPT sorts once; a correlated NOT EXISTS would scan the unindexed history per row.
        "SELECT instruction_id FROM instructions EXCEPT "
        "SELECT instruction_id FROM transitions WHERE instruction_id IS NOT NULL",
    ),
    (
        "§6.6 every transition names its run and time",
        "SELECT rowid FROM transitions WHERE run_id IS NULL OR at IS NULL OR run_id NOT IN "
        "(SELECT run_id FROM runs)",
    ),
)


def broken_invariants(ledger: Ledger, *, limit: int = 5) -> list[str]:
    """Each broken invariant with up to ``limit`` examples; [] when the ledger is sound."""
    broken = []
    for name, sql in _CHECKS:
        rows = ledger.rows(f"{sql} LIMIT {int(limit)}")
        if rows:
            broken.append(f"{name}: {', '.join(str(r[0]) for r in rows)}")
    return broken
