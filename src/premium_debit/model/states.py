"""States of a resident for a period (SPEC §6) and of one instruction."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    COLLECTED = "COLLECTED"
    AWAITING_RESULT = "AWAITING_RESULT"
    RETRY_PENDING = "RETRY_PENDING"
    FAILED = "FAILED"
    REVIEW = "REVIEW"
    PAID_ELSEWHERE = "PAID_ELSEWHERE"
    EXCLUDED = "EXCLUDED"
    REJECTED = "REJECTED"


# States a build may overwrite: the resident's fate is still open. Every other state is decided
# by reconcile, retry, paid or resolve, and build only reports it as a skip (SPEC §3 rows 9–14).
OPEN_STATES: frozenset[State] = frozenset({State.REJECTED, State.EXCLUDED})

# SPEC §3 rows 9–14: a known state → the skip reason that build reports.
SKIP_REASON: dict[State, str] = {
    State.COLLECTED: "ALREADY_COLLECTED",
    State.PAID_ELSEWHERE: "PAID_ELSEWHERE",
    State.AWAITING_RESULT: "IN_FLIGHT",
    State.REVIEW: "IN_REVIEW",
    State.RETRY_PENDING: "RETRY_PENDING",
    State.FAILED: "FAILED_FINAL",
}


class InstructionStatus(StrEnum):
    """An instruction's own outcome; it never changes once final (SPEC §6.3)."""

    AWAITING = "AWAITING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REVIEW = "REVIEW"
