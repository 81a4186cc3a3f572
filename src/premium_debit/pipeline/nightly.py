"""``premium-debit nightly``, the cron entry.

    lock → restore outbox → take complete inbox files → tell them apart by content
         → paid lists → result files (reconcile) → retry → due lists + newest registry (build)
         → report

Each inbox file is accepted (moved to archive/) or refused (moved to quarantine/ with its reason)
on its own; nothing is deleted. Running it twice in a night does nothing new: the second run
finds an empty inbox, no retry due and nothing to build.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from premium_debit.errors import InputRefused
from premium_debit.ledger.store import Ledger
from premium_debit.logs import get_logger
from premium_debit.pipeline.build import run_build
from premium_debit.pipeline.context import RunContext
from premium_debit.pipeline.inputs import read_input
from premium_debit.pipeline.outbox import restore_outbox
from premium_debit.pipeline.paid import run_paid
from premium_debit.pipeline.profiles import BankProfile, bank_profiles
from premium_debit.pipeline.reconcile import reconcile_file
from premium_debit.pipeline.retry import run_retry
from premium_debit.pipeline.sniff import sniff_kind
from premium_debit.reports.reconcile_report import write_reconcile_outputs
from premium_debit.workspace import Workspace, read_bytes, sha256_bytes

_SKIP_SUFFIXES = (".done", ".tmp", ".part", ".partial", ".filepart")


@dataclass
class NightlyResult:
    accepted: list[str] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    steps: dict[str, Any] = field(default_factory=dict)


def ready_files(
    inbox: Path, settle_seconds: int, now: float | None = None
) -> tuple[list[Path], list[Path]]:
    """(complete files, files still being written), each sorted by name.

    A file is complete with a ``<name>.done`` marker beside it, or when unchanged for
    ``settle_seconds``. Hidden and temporary files are never taken.
    """
    now = time.time() if now is None else now
    ready, waiting = [], []
    for path in sorted(inbox.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.name.endswith(_SKIP_SUFFIXES):
            continue
        marker = path.with_name(path.name + ".done")
        if marker.exists() or now - path.stat().st_mtime >= settle_seconds:
            ready.append(path)
        else:
            waiting.append(path)
    return ready, waiting


def _move(ws: Workspace, path: Path, data: bytes, refused: str | None = None) -> None:
    """Out of the inbox: into archive (accepted) or quarantine (refused) — never deleted."""
    if refused is None:
        ws.archive_bytes(path.name, data, sha256_bytes(data))
    else:
        ws.quarantine_bytes(path.name, data, refused)
    path.unlink()
    marker = path.with_name(path.name + ".done")
    if marker.exists():
        marker.unlink()


def run_nightly(ctx: RunContext, ledger: Ledger) -> NightlyResult:
    """The night, in the order of SPEC §8: ingest, reconcile, retry, build, report."""
    from premium_debit.reports.report import run_report

    result = NightlyResult()
    restore_outbox(ledger, ctx.ws, ctx.cfg)
    banks = bank_profiles(ctx.cfg)
    kinds = _sort_inbox(ctx, banks, result)
    for path, data in kinds["paid"]:  # 1. paid lists, each on its own
        _ingest_tabular(ctx, ledger, path, data, "paid", result)
    if kinds["result"]:  # 2. result files, each on its own
        _reconcile_results(ctx, ledger, banks, kinds["result"], result)
    report = ctx.ws.reports / ctx.run_id
    result.steps["retry"] = run_retry(ctx, ledger, report_dir=report / "retry").summary  # 3.
    registry = _newest_registry(ctx, ledger, kinds["registry"], result)  # 4. build
    _build_due(ctx, ledger, kinds["due"], registry, result)
    result.steps["report"], _ = run_report(ctx, ledger, None, report_dir=report / "report")  # 5.
    return result


def _sort_inbox(
    ctx: RunContext, banks: dict[str, BankProfile], result: NightlyResult
) -> dict[str, list[tuple[Path, bytes]]]:
    """The complete inbox files by kind; unknown content is quarantined at once."""
    log = get_logger()
    ready, waiting = ready_files(ctx.ws.inbox, ctx.cfg.nightly.settle_seconds)
    result.waiting = [p.name for p in waiting]
    for p in waiting:
        log.info("inbox_file_waiting", file=p.name)
    kinds: dict[str, list[tuple[Path, bytes]]] = {
        "paid": [],
        "result": [],
        "due": [],
        "registry": [],
    }
    for path in ready:
        data = read_bytes(path)
        kind = sniff_kind(path, data, banks)
        if kind is None:
            reason = f"{path.name}: not a due list, registry, paid list or result file"
            _move(ctx.ws, path, data, reason)
            result.refused.append({"file": path.name, "reason": reason})
            log.warning("inbox_file_refused", file=path.name, reason=reason)
            continue
        kinds[kind].append((path, data))
    return kinds


def _reconcile_results(
    ctx: RunContext,
    ledger: Ledger,
    banks: dict[str, BankProfile],
    arrived: list[tuple[Path, bytes]],
    result: NightlyResult,
) -> None:
    files = []
    for path, data in arrived:
        outcome = reconcile_file(path, ctx, ledger, banks, data=data)
        files.append(outcome)
        if outcome.status == "refused":
            result.refused.append({"file": path.name, "reason": outcome.reason})
            path.unlink()  # reconcile_file already quarantined the bytes with the reason
        else:
            _move(ctx.ws, path, data)
            result.accepted.append(path.name)
    result.steps["reconcile"] = write_reconcile_outputs(
        ctx.ws.reports / ctx.run_id / "reconcile",
        ledger,
        files,
        ctx.as_of,
        ctx.cfg.reconcile.overdue_days,
        ctx.period,
        ctx.run_id,
        command="nightly",
    )


def _build_due(
    ctx: RunContext,
    ledger: Ledger,
    arrived: list[tuple[Path, bytes]],
    registry: Path | None,
    result: NightlyResult,
) -> None:
    """This night's due lists with the newest registry snapshot.

    An inbox file leaves the inbox only after the commit that consumed it: a run killed in
    between finds it again, and running again on the same input creates nothing new.
    """
    due_ok: list[tuple[Path, bytes]] = []
    for path, data in arrived:
        if not _readable(ctx, path, data, "due", result):
            continue
        if registry is None:
            get_logger().warning("due_list_waiting_for_registry", file=path.name)
            result.waiting.append(path.name)
            continue
        due_ok.append((path, data))
    if due_ok and registry is not None:
        report_dir = ctx.ws.reports / ctx.run_id / "build"
        result.steps["build"] = run_build(
            ctx, ledger, [p for p, _ in due_ok], registry, report_dir=report_dir
        ).summary
        for path, data in due_ok:
            _move(ctx.ws, path, data)
            result.accepted.append(path.name)


def _readable(ctx: RunContext, path: Path, data: bytes, kind: str, result: NightlyResult) -> bool:
    """True when the file reads whole as ``kind``; otherwise it is quarantined and listed."""
    try:
        read_input(path, kind, data=data)
    except InputRefused as exc:
        _move(ctx.ws, path, data, str(exc))
        result.refused.append({"file": path.name, "reason": str(exc)})
        return False
    return True


def _ingest_tabular(
    ctx: RunContext, ledger: Ledger, path: Path, data: bytes, kind: str, result: NightlyResult
) -> None:
    if not _readable(ctx, path, data, kind, result):
        return
    report_dir = ctx.ws.reports / ctx.run_id / f"paid-{path.stem}"
    result.steps.setdefault("paid", []).append(run_paid(ctx, ledger, [path], report_dir=report_dir))
    _move(ctx.ws, path, data)
    result.accepted.append(path.name)


def _newest_registry(
    ctx: RunContext, ledger: Ledger, arrived: list[tuple[Path, bytes]], result: NightlyResult
) -> Path | None:
    """The registry snapshot to build with: the newest that arrived tonight and reads whole,
    else the newest accepted before (kept in the archive)."""
    chosen: Path | None = None
    for path, data in arrived:  # sorted by name; the last readable one wins
        if not _readable(ctx, path, data, "registry", result):
            continue
        sha = sha256_bytes(data)
        ctx.ws.archive_bytes(path.name, data, sha)
        with ledger.write() as w:
            w.add_run(ctx.run_id, "nightly", ctx.as_of_text, ctx.now_iso())
            w.add_file(
                sha,
                path.name,
                "registry",
                ctx.run_id,
                ctx.now_iso(),
                archived_as=str(ctx.ws.archive / f"{sha[:16]}_{path.name}"),
            )
        _move(ctx.ws, path, data)
        result.accepted.append(path.name)
        chosen = ctx.ws.archive / f"{sha[:16]}_{path.name}"
    if chosen is not None:
        return chosen
    latest = ledger.latest_file("registry")
    if latest is not None and latest.get("archived_as") and Path(latest["archived_as"]).exists():
        return Path(latest["archived_as"])
    return None


def write_nightly_outputs(ctx: RunContext, ledger: Ledger, result: NightlyResult) -> Path:
    """The night's own summary.json and overdue.csv (written every night, results or not)."""
    from premium_debit.reports import summary as S
    from premium_debit.reports.conservation import instruction_checks, ledger_tally
    from premium_debit.reports.exceptions import write_exceptions
    from premium_debit.reports.reconcile_report import overdue_rows

    report_dir = ctx.ws.reports / ctx.run_id
    overdue = overdue_rows(ledger, ctx.as_of, ctx.cfg.reconcile.overdue_days, ctx.period)
    write_exceptions(report_dir / "exceptions" / "overdue.csv", overdue)
    summary = {
        "command": "nightly",
        "run_id": ctx.run_id,
        "as_of": ctx.as_of_text,
        "period": ctx.period,
        "files": {
            "accepted": result.accepted,
            "refused": result.refused,
            "waiting": result.waiting,
        },
        "steps": {k: (v if isinstance(v, dict) else {"runs": v}) for k, v in result.steps.items()},
        "overdue": {"count": overdue.height},
        "conservation": S.conservation(instruction_checks(ledger_tally(ledger, ctx.period))),
    }
    S.write_summary(report_dir / "summary.json", summary)
    return report_dir
