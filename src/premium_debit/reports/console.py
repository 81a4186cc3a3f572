"""What a command prints for the operator: a short table of the summary and where to look."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

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
        print(
            f"  bank {code}: {bank['instructed']['count']:,} instructions in "
            f"{len(bank['batches'])} batch(es)"
        )
    holds = summary["conservation"]["holds"]
    print(f"  conservation: {'holds' if holds else 'BROKEN — do not send these files'}")
    if report_dir is not None:
        print(f"  request files: {outbox}")
        print(f"  report: {report_dir}")


def print_reconcile(summary: dict[str, Any], report_dir: Path) -> None:
    files = summary["files"]
    print(
        f"reconcile {summary['run_id']} as of {summary['as_of']}: "
        f"{len(files['accepted'])} accepted, {len(files['refused'])} refused, "
        f"{len(files['replayed'])} replayed"
    )
    if summary["outcomes"]:
        print(f"  {'outcome':<24}{'records':>9}  {'yuan':>16}")
        for code, fig in summary["outcomes"].items():
            print(f"  {code:<24}{_fig(fig)}  {REASONS[code].zh}")
    if summary.get("unexpected", {}).get("count"):
        print(
            f"  unexpected rows (never instructed, see unexpected.csv): "
            f"{summary['unexpected']['count']:,}"
        )
    for name in files["replayed"]:
        print(f"  replayed (already accepted, nothing changed): {name}")
    inst = summary["instructions"]
    print("  all instructions: " + ", ".join(f"{k} {v['count']:,}" for k, v in inst.items()))
    if summary["refunds"]["count"]:
        print(
            f"  refund candidates: {summary['refunds']['count']:,} "
            f"({yuan_text(summary['refunds']['amount_fen'])} yuan)"
        )
    if summary["overdue"]["count"]:
        print(f"  overdue results: {summary['overdue']['count']:,} (see overdue.csv)")
    holds = summary["conservation"]["holds"]
    print(f"  conservation: {'holds' if holds else 'BROKEN — stop and investigate'}")
    print(f"  report: {report_dir}")


def print_retry(summary: dict[str, Any], candidates: Any, *, list_all: bool) -> None:
    dry = " (dry run: nothing written)" if summary.get("dry_run") else ""
    print(
        f"retry {summary['run_id']} as of {summary['as_of']}{dry}: "
        f"{summary['retried']['count']:,} residents re-instructed "
        f"({yuan_text(summary['retried']['amount_fen'])} yuan)"
    )
    for why, fig in summary["held"].items():
        print(f"  held {why:<16}{fig['count']:>9,}")
    for code, bank in summary["banks"].items():
        print(f"  bank {code}: {bank['instructed']['count']:,} in {', '.join(bank['batches'])}")
    if list_all and candidates.height:
        print(f"  {'person_id':<20}{'attempt':>8}  {'decision':<16}{'eligible from':<14}")
        lines = candidates.select(
            pl.concat_str(
                [
                    pl.lit("  "),
                    pl.concat_str(
                        [
                            pl.col("person_id").str.head(6),
                            pl.lit("********"),
                            pl.col("person_id").str.tail(4),
                        ]
                    ).str.pad_end(20),
                    pl.col("attempt").cast(pl.String).str.pad_start(8),
                    pl.lit("  "),
                    pl.col("held").fill_null("RETRY").str.pad_end(16),
                    pl.col("eligible_from").fill_null(""),
                ]
            )
        ).to_series()
        print("\n".join(lines.to_list()))
