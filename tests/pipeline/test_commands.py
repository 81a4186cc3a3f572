"""Commands end to end through the CLI: simulate-bank, report, retry --dry-run, export, demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from premium_debit.cli import main


def test_simulate_bank__answers_the_outbox_and_faults_are_refused(campaign: Any) -> None:
    """simulate-bank answers every request file; a planted header fault is refused by
    reconcile (exit 65) while the sound answers are accepted."""
    assert campaign.build() == 0
    requests = sorted((campaign.workdir / "outbox").rglob("*.req"))
    sound, faulty = campaign.root / "bank", campaign.root / "bad"
    assert campaign.cli("simulate-bank", *requests, "--out", sound, "--seed", "5") == 0
    assert sorted(p.name for p in sound.iterdir()) == sorted(
        p.name.replace(".req", ".ret") for p in requests
    )
    assert (
        campaign.cli("simulate-bank", requests[0], "--out", faulty, "--fault", "header_count") == 0
    )
    (bad,) = faulty.iterdir()
    assert campaign.cli("reconcile", bad, as_of="2026-11-30") == 65
    assert campaign.cli("reconcile", *sorted(sound.iterdir()), as_of="2026-11-30") == 0
    assert campaign.broken() == []


def test_report__command_writes_workbook_and_summary(campaign: Any, capsys: Any) -> None:
    """report writes report.xlsx, summary.json and overdue.csv, and prints the table."""
    assert campaign.build() == 0
    capsys.readouterr()
    assert campaign.cli("report", as_of="2026-12-10") == 0
    out = capsys.readouterr().out
    assert "西坞街道" in out
    assert "conservation" in out
    (report,) = [p for p in campaign.reports() if "-report-" in p.name]
    assert (report / "report.xlsx").stat().st_size > 0
    summary = json.loads((report / "summary.json").read_text("utf-8"))
    assert summary["totals"]["instructed"]["count"] == 21
    overdue = pl.read_csv(report / "exceptions" / "overdue.csv", infer_schema=False)
    assert overdue.height == 21  # nothing answered 11 days after the batch: all overdue
    assert set(overdue["reason_code"]) == {"OVERDUE_RESULT"}


def test_retry__dry_run_lists_and_writes_nothing(campaign: Any, capsys: Any) -> None:
    """retry --dry-run lists who would be retried and why others wait; the ledger is untouched."""
    assert campaign.build() == 0
    pid = campaign.pid("ok_nbcb_0")
    files = campaign.answer({pid: "INSUFFICIENT_FUNDS"}, processed="2026-11-29")
    assert campaign.cli("reconcile", *files, as_of="2026-11-29") == 0
    export = campaign.export("before.csv")
    capsys.readouterr()
    assert campaign.cli("retry", "--dry-run", as_of="2026-11-30") == 0
    out = capsys.readouterr().out
    assert "held WAITING" in out
    assert "2026-12-02" in out
    assert pid not in out
    assert campaign.cli("retry", "--dry-run", as_of="2026-12-02") == 0
    assert "1 residents re-instructed" in capsys.readouterr().out
    assert campaign.export("after.csv") == export
    with campaign.ledger() as ledger:
        assert ledger.scalar("SELECT COUNT(*) FROM batches WHERE kind = 'retry'") == 0


def test_export__one_row_per_resident_in_spec_format(campaign: Any) -> None:
    """export: UTF-8 with BOM, the spec's columns, yuan with 2 decimals, sorted by person_id."""
    assert campaign.build() == 0
    files = campaign.answer({campaign.pid("ok_icbc_1"): "ACCOUNT_FROZEN"})
    assert campaign.cli("reconcile", *files, as_of="2026-11-30") == 0
    raw = campaign.export()
    assert raw.startswith(b"\xef\xbb\xbf")
    frame = pl.read_csv(raw[3:], infer_schema=False)
    assert frame.columns == [
        "person_id",
        "period",
        "township",
        "state",
        "amount_due",
        "amount_collected",
        "attempts",
        "last_reason",
    ]
    assert frame["person_id"].to_list() == sorted(frame["person_id"].to_list())
    row = frame.filter(pl.col("person_id") == campaign.pid("ok_icbc_1")).row(0, named=True)
    assert row == {
        "person_id": campaign.pid("ok_icbc_1"),
        "period": "2027",
        "township": "溪口镇",
        "state": "FAILED",
        "amount_due": "1080.50",
        "amount_collected": "0.00",
        "attempts": "1",
        "last_reason": "ACCOUNT_FROZEN",
    }
    collected = frame.filter(pl.col("state") == "COLLECTED")
    assert (collected["amount_collected"] == collected["amount_due"]).all()


def test_demo__small_campaign_runs_from_nothing_to_report(tmp_path: Path, capsys: Any) -> None:
    """The README's first command, on 3,000 residents: every step runs and the figures hold."""
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--residents", "3000", "--seed", "4"]) == 0
    text = capsys.readouterr().out
    for step in ("== 1.", "== 4.", "== 6.", "== 8.", "== 9.", "collected:"):
        assert step in text
    reports = sorted((out / "var" / "reports").iterdir())
    summary = json.loads((reports[-1] / "summary.json").read_text("utf-8"))
    assert summary["command"] == "report"
    assert summary["conservation"]["holds"] is True
    assert 0 < summary["totals"]["collected"]["count"] < 3000
    assert main(["demo", "--out", str(out), "--residents", "3000", "--seed", "4"]) == 0  # again
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x", "utf-8")
    assert main(["demo", "--out", str(tmp_path / "other")]) == 78  # never wipes a foreign folder


def test_retry__nothing_after_the_deadline(campaign: Any, capsys: Any) -> None:
    """After the campaign deadline (2026-12-31) a retry-pending resident is held, never sent."""
    assert campaign.build() == 0
    pid = campaign.pid("ok_nbcb_0")
    files = campaign.answer({pid: "INSUFFICIENT_FUNDS"}, processed="2026-11-29")
    assert campaign.cli("reconcile", *files, as_of="2026-11-29") == 0
    capsys.readouterr()
    assert campaign.cli("retry", as_of="2027-01-01") == 0
    assert "held PAST_DEADLINE" in capsys.readouterr().out
    with campaign.ledger() as ledger:
        assert ledger.scalar("SELECT COUNT(*) FROM batches WHERE kind = 'retry'") == 0
    assert campaign.resident(pid)["state"] == "RETRY_PENDING"
    assert campaign.cli("retry", as_of="2026-12-31") == 0  # the deadline day itself still counts
    assert campaign.resident(pid)["state"] == "AWAITING_RESULT"


def test_build__second_run_same_day_continues_batch_sequence(campaign: Any) -> None:
    """Batch ids end in a 2-digit sequence per bank and business date: a second build that day
    goes on from the first's last batch (SPEC §4)."""
    xiwu = [p for p in campaign.due if p.name == "due_xiwu.csv"]
    others = [p for p in campaign.due if p.name != "due_xiwu.csv"]
    assert campaign.cli("build", "--due", *xiwu, "--registry", campaign.registry) == 0
    with campaign.ledger() as ledger:
        first = set(ledger.batches()["batch_id"])
    assert campaign.cli("build", "--due", *others, "--registry", campaign.registry) == 0
    with campaign.ledger() as ledger:
        second = sorted(set(ledger.batches()["batch_id"]) - first)
    for bank in ("NBCB", "ICBC"):
        before = sorted(int(b[-2:]) for b in first if bank in b)
        after = sorted(int(b[-2:]) for b in second if bank in b)
        assert before == list(range(1, len(before) + 1)), bank
        assert after == list(range(len(before) + 1, len(before) + len(after) + 1)), bank
        assert after, bank
    assert campaign.broken() == []


def test_paid__same_list_twice_creates_nothing_new(campaign: Any) -> None:
    """A paid-elsewhere list ingested again changes no state, payment or refund (SPEC §6.5)."""
    assert campaign.build(paid=False) == 0
    files = campaign.answer()
    assert campaign.cli("reconcile", *files, as_of="2026-11-30") == 0
    paid = campaign.root / "paid_late.csv"
    paid.write_text(
        "person_id,period,amount,channel,paid_at\n"
        f"{campaign.pid('ok_icbc_0')},2027,380.00,APP,2026-11-30\n",
        "utf-8",
    )
    tables = ("payments", "refunds", "transitions", "residents")
    assert campaign.cli("paid", paid, as_of="2026-12-01") == 0
    with campaign.ledger() as ledger:
        once = [ledger.scalar(f"SELECT COUNT(*) FROM {t}") for t in tables]
    assert once[1] == 1  # collected, then paid at the counter: one refund candidate
    assert campaign.cli("paid", paid, as_of="2026-12-02") == 0
    with campaign.ledger() as ledger:
        assert [ledger.scalar(f"SELECT COUNT(*) FROM {t}") for t in tables] == once
