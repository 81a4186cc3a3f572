"""Request files in the outbox: rendered from instruction rows, written after the ledger commits.

The ledger commits first and the files follow, so a crash in between leaves batches whose file
is missing — never a file the ledger does not know. ``restore_outbox`` renders such files again
from the ledger, byte-identical (checked against the SHA-256 recorded with the batch).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import polars as pl

from premium_debit.config import Config
from premium_debit.errors import InternalError
from premium_debit.formats.bankfile import RequestHeader, render_request
from premium_debit.formats.layout import load_layout
from premium_debit.ledger.store import BATCH_SCHEMA, Ledger
from premium_debit.logs import get_logger
from premium_debit.pipeline.batches import request_file_name
from premium_debit.pipeline.context import RunContext
from premium_debit.pipeline.profiles import BankProfile
from premium_debit.workspace import Staging, Workspace, sha256_bytes, write_atomic

REQUEST_DETAIL = ["seq", "instruction_id", "account_no", "name", "amount_fen", "person_id"]


def render_batch(batch: dict[str, object], details: pl.DataFrame, cfg: Config) -> bytes:
    layout = load_layout(str(batch["layout"]), cfg.base_dir)
    header = RequestHeader(
        batch_id=str(batch["batch_id"]),
        bank_code=str(batch["bank_code"]),
        period=int(batch["period"]),  # type: ignore[call-overload]
        created=date.fromisoformat(str(batch["business_date"])),
    )
    return render_request(
        layout, str(batch["encoding"]), header, details.sort("seq").select(REQUEST_DETAIL)
    )


def restore_outbox(ledger: Ledger, ws: Workspace, cfg: Config) -> list[str]:
    """Render again every committed request file missing from the outbox whose batch has no
    result yet; returns the names restored."""
    restored: list[str] = []
    Staging.sweep(ws.outbox, atomic_temps=True)  # the outbox is written under the lock only
    Staging.sweep(ws.reports)
    batches = ledger.batches()
    for batch in batches.iter_rows(named=True):  # one row per batch, not per resident
        path = ws.outbox_file(batch["bank_code"], batch["file_name"])
        if path.exists() or ledger.result_file_for_batch(batch["batch_id"]) is not None:
            continue
        data = render_batch(batch, ledger.instructions(batch_id=batch["batch_id"]), cfg)
        if sha256_bytes(data) != batch["file_sha256"]:
            raise InternalError(
                f"{batch['file_name']}: re-rendered request differs from the committed batch"
            )
        write_atomic(path, data)
        get_logger().warning("request_file_restored", file=batch["file_name"])
        restored.append(batch["file_name"])
    return restored


def instruction_rows(instructed: pl.DataFrame, ctx: RunContext) -> pl.DataFrame:
    """Ledger rows of new instructions (``attempt`` 1 unless the frame says otherwise)."""
    return instructed.select(
        "instruction_id",
        "batch_id",
        "seq",
        person_id="pid",
        period=pl.lit(ctx.period, pl.Int64),
        township="township",
        attempt=pl.col("attempt") if "attempt" in instructed.columns else pl.lit(1, pl.Int64),
        account_no="account_no",
        name="account_name",
        amount_fen="amount_fen",
    )


def render_batches(
    instructed: pl.DataFrame, ctx: RunContext, banks: dict[str, BankProfile], *, kind: str = "build"
) -> tuple[pl.DataFrame, dict[str, bytes]]:
    """Render each batch's request file; returns the batch rows and the bytes by file name."""
    rendered: dict[str, bytes] = {}
    rows: list[dict[str, Any]] = []
    if instructed.height == 0:
        return pl.DataFrame(schema=BATCH_SCHEMA), rendered
    policy = json.dumps(ctx.cfg.retry.model_dump(), sort_keys=True)
    details = instructed.select(
        "batch_id",
        "bank_code",
        "seq",
        "instruction_id",
        "account_no",
        name="account_name",
        amount_fen="amount_fen",
        person_id="pid",
    )
    for (batch_id, bank_code), part in details.group_by(
        ["batch_id", "bank_code"], maintain_order=True
    ):
        bank = banks[str(bank_code)]
        file_name = request_file_name(bank.code, str(batch_id))
        batch = {
            "batch_id": str(batch_id),
            "bank_code": bank.code,
            "period": ctx.period,
            "business_date": ctx.as_of_text,
            "seq": int(str(batch_id)[-2:]),
            "kind": kind,
            "run_id": ctx.run_id,
            "count": part.height,
            "total_fen": int(part["amount_fen"].sum()),
            "file_name": file_name,
            "encoding": bank.encoding,
            "layout": bank.format,
            "policy": policy,
        }
        data = render_batch(batch, part.select(REQUEST_DETAIL), ctx.cfg)
        batch["file_sha256"] = sha256_bytes(data)
        rendered[file_name] = data
        rows.append(batch)
    return pl.DataFrame(rows, schema=BATCH_SCHEMA).sort("batch_id"), rendered
