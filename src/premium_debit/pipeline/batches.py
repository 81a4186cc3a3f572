"""Step 4 of build and retry: split instructions into batches (SPEC §4).

A bank's records of one run are sorted by township (configuration order), then person_id, and
split in that order into batches of at most ``max_records``. ids are deterministic:
``batch_id`` = period(4) + bank(4) + business date(8) + sequence(2);
``instruction_id`` = batch_id + sequence within the batch (6).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

import polars as pl

from premium_debit.errors import InternalError
from premium_debit.pipeline.profiles import BankProfile

MAX_BATCHES_PER_DAY = 99  # the batch sequence has two digits


def assign_batches(
    instructed: pl.DataFrame,
    *,
    period: int,
    as_of: date,
    townships: list[str],
    banks: Mapping[str, BankProfile],
    next_seq: Callable[[str], int],
) -> pl.DataFrame:
    """Give each instructed row its ``batch_id``, ``seq`` and ``instruction_id``.

    ``instructed`` needs ``pid``, ``township``, ``bank_code``; ``next_seq(bank_code)`` is the
    first free batch sequence of that bank on ``as_of`` (a second run on the same day goes on
    from where the first stopped).
    """
    order = {name: i for i, name in enumerate(townships)}
    day = as_of.strftime("%Y%m%d")
    frames = []
    for code, bank in banks.items():
        rows = instructed.filter(pl.col("bank_code") == code)
        if rows.height == 0:
            continue
        first = next_seq(code)
        rows = (
            rows.with_columns(_t=pl.col("township").replace_strict(order, return_dtype=pl.Int64))
            .sort("_t", "pid")
            .drop("_t")
            .with_row_index("_i")
            .with_columns(
                _b=(pl.col("_i") // bank.max_records).cast(pl.Int64) + first,
                seq=(pl.col("_i") % bank.max_records).cast(pl.Int64) + 1,
            )
        )
        last = int(rows["_b"].max())  # type: ignore[arg-type]
        if last > MAX_BATCHES_PER_DAY:
            raise InternalError(
                f"bank {code}: more than {MAX_BATCHES_PER_DAY} batches on {as_of}; "
                "raise max_records or split the run"
            )
        rows = rows.with_columns(
            batch_id=pl.concat_str(
                [
                    pl.lit(f"{period:04d}{code}{day}"),
                    pl.col("_b").cast(pl.String).str.pad_start(2, "0"),
                ]
            ),
        ).with_columns(
            instruction_id=pl.concat_str(
                [pl.col("batch_id"), pl.col("seq").cast(pl.String).str.pad_start(6, "0")]
            )
        )
        frames.append(rows.drop("_i", "_b"))
    if not frames:
        return instructed.clear().with_columns(
            batch_id=pl.lit(None, pl.String),
            seq=pl.lit(None, pl.Int64),
            instruction_id=pl.lit(None, pl.String),
        )
    return pl.concat(frames, how="vertical")


def request_file_name(bank_code: str, batch_id: str) -> str:
    return f"{bank_code}_{batch_id}.req"
