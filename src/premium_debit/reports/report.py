"""``premium-debit report [--period P]``: the operator's report of one period (SPEC §8, §9).

read the ledger → compute the figures → write report.xlsx, summary.json and overdue.csv. The
command only reads the ledger: it records no run and changes no state.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

from premium_debit.ledger.store import Ledger
from premium_debit.logs import get_logger
from premium_debit.model.money import yuan_text
from premium_debit.pipeline.context import RunContext
from premium_debit.reports import summary as S
from premium_debit.reports.conservation import instruction_checks, instruction_frame, tally
from premium_debit.reports.exceptions import write_exceptions
from premium_debit.reports.figures import (
    ReportFigures,
    ReportInputs,
    compute_figures,
    summary_sections,
)
from premium_debit.reports.reconcile_report import (
    exception_rows,
    overdue_instructions,
    people_of,
)
from premium_debit.reports.xlsx import ReportMeta, render_xlsx
from premium_debit.workspace import write_atomic

REPORT_XLSX = "report.xlsx"
OVERDUE_CSV = "exceptions/overdue.csv"


def load_inputs(ledger: Ledger, period: int, as_of: date, overdue_days: int) -> ReportInputs:
    """The ledger frames of ``period`` the report is computed from (the only queries)."""
    return ReportInputs(
        period=period,
        residents=ledger.residents(period),
        instructions=instruction_frame(ledger, period),
        refunds=ledger.refunds(period),
        overdue=overdue_instructions(ledger, as_of, overdue_days, period),
    )


def report_figures(ctx: RunContext, inputs: ReportInputs) -> ReportFigures:
    cfg = ctx.cfg
    return compute_figures(
        inputs,
        townships=cfg.township_names,
        banks=[b.code for b in cfg.banks],
        admin_threshold=cfg.report.admin_failure_threshold,
    )


def build_summary(ctx: RunContext, figs: ReportFigures, inputs: ReportInputs) -> dict[str, Any]:
    """summary.json of a report run: every money figure {"count": n, "amount_fen": n}."""
    sections = summary_sections(figs)
    names = {b.code: b.name for b in ctx.cfg.banks}
    for code, bank in sections["banks"].items():
        bank["name"] = names.get(code, "")
    return {
        "command": "report",
        "run_id": ctx.run_id,
        "as_of": ctx.as_of_text,
        "period": figs.period,
        **sections,
        "files": {"report": REPORT_XLSX, "overdue": OVERDUE_CSV},
        "conservation": S.conservation(instruction_checks(tally(inputs.instructions))),
    }


def run_report(
    ctx: RunContext, ledger: Ledger, period: int | None, *, report_dir: Path | None = None
) -> tuple[dict[str, Any], Path]:
    """Write reports/<run_id>/report.xlsx, summary.json and exceptions/overdue.csv for
    ``period`` (default: the campaign's); return the summary and the report folder.
    ``report_dir`` overrides the folder (nightly: a subfolder beside its own summary.json)."""
    started = time.perf_counter()
    period = ctx.period if period is None else period
    inputs = load_inputs(ledger, period, ctx.as_of, ctx.cfg.reconcile.overdue_days)
    figs = report_figures(ctx, inputs)
    summary = build_summary(ctx, figs, inputs)
    meta = ReportMeta(
        period=period,
        as_of=ctx.as_of,
        run_id=ctx.run_id,
        agency=ctx.cfg.campaign.agency,
        bank_names={b.code: b.name for b in ctx.cfg.banks},
    )
    report_dir = report_dir or ctx.ws.reports / ctx.run_id
    write_exceptions(
        report_dir / OVERDUE_CSV, exception_rows(inputs.overdue, people_of(inputs.residents))
    )
    write_atomic(report_dir / REPORT_XLSX, render_xlsx(figs, meta))
    S.write_summary(report_dir / "summary.json", summary)
    get_logger().info(
        "step_finished",
        step="report",
        seconds=round(time.perf_counter() - started, 3),
        period=period,
        residents=summary["totals"]["due"]["count"],
        overdue=inputs.overdue.height,
        conservation=summary["conservation"]["holds"],
    )
    return summary, report_dir


# -- terminal --------------------------------------------------------------------------------


def _width(text: str) -> int:
    """Display width in a terminal: CJK characters take two columns."""
    return sum(2 if ord(ch) >= 0x1100 else 1 for ch in text)


def _ljust(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def print_report(summary: dict[str, Any], report_dir: Path | None = None) -> None:
    """The report as a table for the terminal: per township, then per bank, then the total."""
    print(f"report {summary['run_id']} as of {summary['as_of']}, period {summary['period']}")
    head = (
        "",
        "due",
        "yuan due",
        "collected",
        "yuan collected",
        "rate",
        "failed",
        "review",
        "awaiting",
        "rejected",
    )
    widths = (14, 8, 14, 10, 15, 7, 7, 7, 9, 9)
    print(
        "  "
        + "".join(
            _ljust(h, w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(head, widths, strict=True))
        )
    )

    def line(label: str, s: dict[str, Any]) -> str:
        cells = (
            f"{s['due']['count']:,}",
            yuan_text(s["due"]["amount_fen"]),
            f"{s['collected']['count']:,}",
            yuan_text(s["collected"]["amount_fen"]),
            _rate(s["collection_rate"]),
            f"{s['failed']['count']:,}",
            f"{s['review']['count']:,}",
            f"{s['awaiting']['count']:,}",
            f"{s['rejected']['count']:,}",
        )
        return (
            "  "
            + _ljust(label, widths[0])
            + "".join(c.rjust(w) for c, w in zip(cells, widths[1:], strict=True))
        )

    for name, s in summary["townships"].items():
        flag = "  ! data quality" if s.get("data_quality", {}).get("flagged") else ""
        print(line(name, s) + flag)
    for code, s in summary["banks"].items():
        print(line(f"bank {code}", s))
    print(line("total", summary["totals"]))
    exc = summary.get("exceptions", {})
    if exc:
        print("  lists: " + ", ".join(f"{k} {v['count']:,}" for k, v in exc.items()))
    holds = summary["conservation"]["holds"]
    print(f"  conservation: {'holds' if holds else 'BROKEN — stop and investigate'}")
    if report_dir is not None:
        print(f"  report: {report_dir / REPORT_XLSX}")
