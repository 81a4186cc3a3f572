"""The bank simulator's profile and fault names, without its dependencies: the CLI offers them
as choices without importing numpy."""

from __future__ import annotations

PROFILE_NAMES: tuple[str, ...] = ("pilot", "all_success", "all_insufficient", "recovering")

ROW_FAULTS: tuple[str, ...] = (
    "missing_row",  # a row dropped → MISSING_RESULT
    "unexpected_row",  # a row for an instruction not in the batch → UNEXPECTED_RESULT
    "duplicate_row",  # a row twice → DUPLICATE_RESULT
    "amount_mismatch",  # a row's amount is not the instructed one → AMOUNT_MISMATCH
    "account_mismatch",  # a row's account is not the instructed one → ACCOUNT_MISMATCH
    "partial_debit",  # success with debited < amount → PARTIAL_DEBIT
    "unknown_code",  # a code the bank's map lacks → UNKNOWN_CODE
)
FILE_FAULTS: tuple[str, ...] = (
    "header_count",  # the header's count is one more than the detail lines
    "trailer_total",  # the trailer's total is 1.00 yuan more than the detail amounts
    "unknown_batch",  # header and file name name a batch that was never sent (sequence 100 − s)
    "name_disagrees",  # the file name names the next batch (sequence s + 1), the header this one
    "truncated",  # cut inside a detail line: no trailer, no final line end
    "undecodable",  # bytes invalid in the bank's encoding inside one row's message
)
FAULTS: tuple[str, ...] = ROW_FAULTS + FILE_FAULTS
