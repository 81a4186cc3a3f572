"""Request files in the outbox: rendered from instruction rows, written after the ledger commits.

The ledger commits first and the files follow, so a crash in between leaves batches whose file
is missing — never a file the ledger does not know. ``restore_outbox`` renders such files again
from the ledger, byte-identical (checked against the SHA-256 recorded with the batch).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from premium_debit.config import Config
from premium_debit.errors import InternalError
from premium_debit.formats.bankfile import RequestHeader, render_request
from premium_debit.formats.layout import load_layout
from premium_debit.ledger.store import Ledger
from premium_debit.logs import get_logger
from premium_debit.workspace import Workspace, sha256_bytes, write_atomic

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


def write_request(ws: Workspace, bank_code: str, file_name: str, data: bytes) -> None:
    write_atomic(ws.outbox_file(bank_code, file_name), data)


def restore_outbox(ledger: Ledger, ws: Workspace, cfg: Config) -> list[str]:
    """Render again every committed request file missing from the outbox whose batch has no
    result yet; returns the names restored."""
    restored: list[str] = []
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
