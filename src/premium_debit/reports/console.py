"""What a command prints for the operator: a short table of the summary and where to look."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from premium_debit.model.money import yuan_text
from premium_debit.model.reasons import REASONS


def _fig(f: dict[str, int]) -> str:
    return f"{f['count']:>9,}  {yuan_text(f['amount_fen']):>16}"


def print_build(summary: dict[str, Any], report_dir: Path | None, outbox: Path) -> None:
    dry = " (dry run: nothing written)" if summary.get("dry_run") else ""
    print(f"build {summary['run_id']} as of {summary['as_of']}, period {summary['period']}{dry}")
    print(f"  {'':<12}{'records':>9}  {'yuan':>16}")
    print(f"  {'due':<12}{_fig(summary['due'])}")
    for bucket, fig in summary["buckets"].items():
        print(f"  {bucket:<12}{_fig(fig)}")
    if summary["reasons"]:
        print("  by reason:")
        for code, fig in summary["reasons"].items():
            print(f"    {code:<24}{_fig(fig)}  {REASONS[code].zh}")
    for code, bank in summary["banks"].items():
        print(f"  bank {code}: {bank['instructed']['count']:,} instructions in "
              f"{len(bank['batches'])} batch(es)")  # fmt: skip
    holds = summary["conservation"]["holds"]
    print(f"  conservation: {'holds' if holds else 'BROKEN — do not send these files'}")
    if report_dir is not None:
        print(f"  request files: {outbox}")
        print(f"  report: {report_dir}")
