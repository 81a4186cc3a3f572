"""Build stage on the fixture campaign: buckets, golden request files, idempotence, refusals."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import polars as pl

REPO = Path(__file__).resolve().parents[2]
EXPECTED = REPO / "fixtures" / "campaign" / "expected"


def _classified(campaign: Any) -> pl.DataFrame:
    """Reason per due record from the run's rejected.csv and the ledger."""
    (report,) = campaign.reports()
    return pl.read_csv(report / "exceptions" / "rejected.csv", infer_schema=False)


def test_build__every_case_gets_its_reason(campaign: Any) -> None:
    """Each named case of the fixture campaign ends in exactly the bucket and reason it names."""
    campaign.seed_states()
    assert campaign.build() == 0
    (report,) = campaign.reports()
    summary = json.loads((report / "summary.json").read_text("utf-8"))
    rejected = pl.read_csv(report / "exceptions" / "rejected.csv", infer_schema=False)
    cases = campaign.cases()
    with campaign.ledger() as ledger:
        residents = ledger.residents(2027)
        instructions = ledger.instructions(period=2027)
    seeded = {"ALREADY_COLLECTED", "IN_FLIGHT", "IN_REVIEW", "RETRY_PENDING", "FAILED_FINAL"}
    for case, pid, expected in cases.iter_rows():
        got_rejected = rejected.filter(pl.col("person_id") == pid)["reason_code"].to_list()
        instructed = instructions.filter(pl.col("person_id") == pid).height
        state = residents.filter(pl.col("person_id") == pid)["state"].to_list()
        if expected == "":
            assert instructed == 1, case
            assert not got_rejected, case
            assert state == ["AWAITING_RESULT"], case
        elif expected == "DUPLICATE_DUE":
            assert got_rejected == ["DUPLICATE_DUE", "DUPLICATE_DUE"], case
        elif expected in seeded or expected in ("PAID_ELSEWHERE", "ZERO_DUE"):
            assert not got_rejected, case
            assert instructed == 0, case
        else:
            assert got_rejected == [expected], (case, got_rejected)
            assert instructed == 0, case
    # The summary counts every reason, including skips and exclusions, exactly once per record.
    reasons = {k: v["count"] for k, v in summary["reasons"].items()}
    for code in seeded | {"ZERO_DUE"}:
        assert reasons[code] == 1, code
    assert reasons["PAID_ELSEWHERE"] == 2  # one seeded state, one on the paid list
    assert summary["buckets"] == json.loads((EXPECTED / "buckets.json").read_text("utf-8"))
    assert summary["conservation"]["holds"] is True


def test_build__invalid_amount_counts_zero_fen(campaign: Any) -> None:
    """Records with a malformed amount count 0 fen in every figure (SPEC §2.1)."""
    assert campaign.build() == 0
    (report,) = campaign.reports()
    summary = json.loads((report / "summary.json").read_text("utf-8"))
    assert summary["reasons"]["INVALID_AMOUNT"] == {"count": 5, "amount_fen": 0}


def test_build__request_files_match_goldens(campaign: Any, golden: Any) -> None:
    """Request files of both formats, the GBK bank and the NBCB batch split are byte-exact."""
    campaign.seed_states()
    assert campaign.build() == 0
    files = campaign.outbox_files()
    assert sorted(files) == [
        "FHRC/FHRC_2027FHRC2026112901.req",
        "ICBC/ICBC_2027ICBC2026112901.req",
        "NBCB/NBCB_2027NBCB2026112901.req",
        "NBCB/NBCB_2027NBCB2026112902.req",
    ]
    for rel, data in files.items():
        golden(EXPECTED / "outbox" / rel, data)


def test_build__second_identical_build_creates_nothing(campaign: Any) -> None:
    """Running build again on the same inputs adds no instruction, batch, state change or file."""
    assert campaign.build() == 0
    with campaign.ledger() as ledger:
        before = [
            ledger.scalar(f"SELECT COUNT(*) FROM {t}")
            for t in ("instructions", "batches", "transitions", "residents", "payments")
        ]
    files_before = campaign.outbox_files()
    export_before = campaign.export("e1.csv")
    reports_before = set(campaign.reports())
    assert campaign.build() == 0
    with campaign.ledger() as ledger:
        after = [
            ledger.scalar(f"SELECT COUNT(*) FROM {t}")
            for t in ("instructions", "batches", "transitions", "residents", "payments")
        ]
    assert after == before
    assert campaign.outbox_files() == files_before
    assert campaign.export("e2.csv") == export_before
    (new_report,) = set(campaign.reports()) - reports_before
    second = json.loads((new_report / "summary.json").read_text("utf-8"))
    assert second["buckets"]["instructed"]["count"] == 0
    assert second["reasons"]["IN_FLIGHT"]["count"] == before[0]


def test_build__fresh_work_folder_gives_identical_files(campaign: Any, tmp_path: Path) -> None:
    """Same inputs and --as-of in a new work folder give byte-identical request files."""
    import shutil

    assert campaign.build() == 0
    first = campaign.outbox_files()
    shutil.rmtree(campaign.workdir)
    assert campaign.build() == 0
    assert campaign.outbox_files() == first


def test_build__refused_input_changes_nothing(campaign: Any, capsys: Any) -> None:
    """A due list missing a column refuses the whole command (exit 65); the ledger is unchanged."""
    assert campaign.build() == 0
    export_before = campaign.export("before.csv")
    bad = campaign.root / "due_bad.csv"
    bad.write_text("person_id,name,township\n330283198001010011,王建国,西坞街道\n", "utf-8")
    capsys.readouterr()
    code = campaign.cli(
        "build", "--due", campaign.due[0], bad, "--registry", campaign.registry, as_of="2026-11-30"
    )
    err = capsys.readouterr().err.strip()
    assert code == 65
    assert err.count("\n") == 0
    assert "due_bad.csv" in err
    assert "category" in err
    assert campaign.export("after.csv") == export_before


def test_build__dry_run_writes_nothing(campaign: Any) -> None:
    """--dry-run classifies and prints, but records no run and writes no file."""
    assert campaign.build("--dry-run") == 0
    assert campaign.outbox_files() == {}
    with campaign.ledger() as ledger:
        assert ledger.scalar("SELECT COUNT(*) FROM runs") == 0
        assert ledger.scalar("SELECT COUNT(*) FROM residents") == 0


def test_build__logs_carry_no_full_id_or_account(campaign: Any) -> None:
    """No log line holds a full resident ID or account number from the inputs."""
    assert campaign.build() == 0
    assert campaign.build() == 0
    registry = pl.read_csv(campaign.registry, infer_schema=False)
    secrets = set(registry["person_id"]) | set(registry["account_no"])
    text = "".join(p.read_text("utf-8") for p in (campaign.workdir / "logs").glob("*.jsonl"))
    assert text.count("\n") > 5
    assert not [s for s in secrets if s in text]


def test_build__formula_name_is_neutralised(campaign: Any) -> None:
    """A name like =HYPERLINK("x") reaches rejected.csv as text, not a formula."""
    assert campaign.build() == 0
    (report,) = campaign.reports()
    raw = (report / "exceptions" / "rejected.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert '\'=HYPERLINK(""x"")' in text
    assert not re.search(r'(^|,)"?=HYPERLINK', text, re.M)


def test_build__missing_request_file_is_rendered_again(campaign: Any) -> None:
    """A committed batch whose request file vanished is restored byte-identical by the next run."""
    assert campaign.build() == 0
    files = campaign.outbox_files()
    victim = campaign.workdir / "outbox" / "NBCB" / "NBCB_2027NBCB2026112902.req"
    victim.unlink()
    assert campaign.build() == 0
    assert campaign.outbox_files() == files


def test_build__exception_csv_masks_accounts(campaign: Any) -> None:
    """Rejected rows name the account masked: first 6 and last 4 digits only."""
    assert campaign.build() == 0
    (report,) = campaign.reports()
    text = (report / "exceptions" / "rejected.csv").read_text("utf-8-sig")
    registry = pl.read_csv(campaign.registry, infer_schema=False)
    assert not [a for a in registry["account_no"] if a in text]
    assert re.search(r",621336\*{9}\d{4},", text)
