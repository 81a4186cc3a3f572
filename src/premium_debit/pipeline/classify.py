"""Reconcile's match and classify steps (SPEC §5), pure: instructions of a batch + the result
rows of one accepted file → one outcome per instruction, plus the rows that match none.

Rows are matched on their ASCII fields only (instruction_id, account_no, amounts, code); the
message text is informational. A row that cannot be trusted puts its instruction in review,
never in retry: the bank may have taken the money.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl


def classify_results(
    instructions: pl.DataFrame,
    rows: pl.DataFrame,
    codes: Mapping[str, str],
    collected: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(one row per instruction with ``outcome`` and ``status``, every result row with ``class``).

    ``instructions``: the batch's instructions (instruction_id, person_id, account_no,
    amount_fen); ``rows``: parsed detail rows (line, instruction_id, account_no, amount_fen,
    debited_fen, code, …); ``codes``: bank code → outcome; ``collected``: person_id of residents
    with a success already recorded (a second success goes to review, never silently).
    """
    known = instructions.select("instruction_id")
    tagged = rows.join(known.with_columns(_known=pl.lit(True)), on="instruction_id", how="left")
    tagged = tagged.with_columns(
        _known=pl.col("_known").fill_null(False),
        _copies=pl.len().over("instruction_id"),
        outcome_of_code=pl.col("code").replace_strict(dict(codes), default=None),
    )
    matched = tagged.filter(pl.col("_known"))
    single = matched.filter(pl.col("_copies") == 1)
    inst = instructions.select("instruction_id", "person_id", "account_no", "amount_fen")
    j = (
        inst.join(
            single.select(
                "instruction_id",
                "line",
                "outcome_of_code",
                "code",
                r_account="account_no",
                r_amount="amount_fen",
                debited="debited_fen",
            ),
            on="instruction_id",
            how="left",
        )
        .join(
            matched.group_by("instruction_id").agg(copies=pl.len()), on="instruction_id", how="left"
        )
        .join(collected.select("person_id", _collected=pl.lit(True)), on="person_id", how="left")
    )
    success = pl.col("outcome_of_code") == "SUCCEEDED"
    outcome = (
        pl.when(pl.col("copies").is_null())
        .then(pl.lit("MISSING_RESULT"))
        .when(pl.col("copies") > 1)
        .then(pl.lit("DUPLICATE_RESULT"))
        .when(pl.col("r_amount") != pl.col("amount_fen"))
        .then(pl.lit("AMOUNT_MISMATCH"))
        .when(pl.col("r_account") != pl.col("account_no"))
        .then(pl.lit("ACCOUNT_MISMATCH"))
        .when(pl.col("outcome_of_code").is_null())
        .then(pl.lit("UNKNOWN_CODE"))
        .when(success & (pl.col("debited") != pl.col("amount_fen")))
        .then(pl.lit("PARTIAL_DEBIT"))
        .when(~success & (pl.col("debited") != 0))
        .then(pl.lit("PARTIAL_DEBIT"))
        .when(success & pl.col("_collected").fill_null(False))
        .then(pl.lit("SECOND_SUCCESS"))
        .otherwise(pl.col("outcome_of_code"))
    )
    per_instruction = (
        j.with_columns(outcome=outcome)
        .with_columns(
            status=pl.when(pl.col("outcome") == "SUCCEEDED")
            .then(pl.lit("SUCCEEDED"))
            .when(pl.col("outcome").is_in(_REVIEW))
            .then(pl.lit("REVIEW"))
            .otherwise(pl.lit("FAILED")),
            debited_fen=pl.col("debited"),
        )
        .select("instruction_id", "person_id", "outcome", "status", "debited_fen", "line", "code")
    )

    # Each row's class: its instruction's outcome, or UNEXPECTED_RESULT for a stranger.
    row_class = (
        tagged.join(
            per_instruction.select("instruction_id", row_outcome="outcome"),
            on="instruction_id",
            how="left",
        )
        .with_columns(
            **{
                "class": pl.when(~pl.col("_known"))
                .then(pl.lit("UNEXPECTED_RESULT"))
                .otherwise(pl.col("row_outcome"))
            }
        )
        .drop("_known", "_copies", "row_outcome", "outcome_of_code")
        .sort("line")
    )
    return per_instruction, row_class


_REVIEW = [
    "MISSING_RESULT",
    "DUPLICATE_RESULT",
    "AMOUNT_MISMATCH",
    "ACCOUNT_MISMATCH",
    "PARTIAL_DEBIT",
    "UNKNOWN_CODE",
    "SECOND_SUCCESS",
]
