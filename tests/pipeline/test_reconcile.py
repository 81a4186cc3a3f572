"""Reconcile on the fixture campaign: outcomes, review classes, refusals, replays, resolve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl


def _summary(campaign: Any, before: set[Path]) -> dict[str, Any]:
    (new,) = set(campaign.reports()) - before
    return json.loads((new / "summary.json").read_text("utf-8"))


def _csv(campaign: Any, before: set[Path], name: str) -> pl.DataFrame:
    (new,) = set(campaign.reports()) - before
    return pl.read_csv(new / "exceptions" / name, infer_schema=False)


def test_reconcile__outcomes_become_states(campaign: Any) -> None:
    """Successes are collected, a retryable failure waits for retry, others fail for good."""
    assert campaign.build() == 0
    broke, frozen, lost = (campaign.pid(c) for c in ("ok_nbcb_0", "ok_nbcb_1", "ok_icbc_0"))
    files = campaign.answer(
        {broke: "INSUFFICIENT_FUNDS", frozen: "ACCOUNT_FROZEN", lost: "CARD_LOST"}
    )
    before = set(campaign.reports())
    assert campaign.cli("reconcile", *files, as_of="2026-11-30") == 0
    summary = _summary(campaign, before)
    assert {k: v["count"] for k, v in summary["outcomes"].items()} == {
        "SUCCEEDED": 18,
        "INSUFFICIENT_FUNDS": 1,
        "ACCOUNT_FROZEN": 1,
        "CARD_LOST": 1,
    }
    assert summary["outcomes"]["CARD_LOST"] == {"count": 1, "amount_fen": 38000}
    assert summary["conservation"]["holds"] is True
    assert campaign.resident(broke)["state"] == "RETRY_PENDING"
    assert campaign.resident(frozen)["state"] == "FAILED"
    assert campaign.resident(lost)["last_reason"] == "CARD_LOST"
    failed = _csv(campaign, before, "failed.csv")
    assert sorted(
        zip(failed["person_id"], failed["state"], failed["reason_code"], strict=True)
    ) == sorted(
        [
            (broke, "RETRY_PENDING", "INSUFFICIENT_FUNDS"),
            (frozen, "FAILED", "ACCOUNT_FROZEN"),
            (lost, "FAILED", "CARD_LOST"),
        ]
    )
    assert campaign.broken() == []


def _review_edits_01(rows: pl.DataFrame) -> pl.DataFrame:
    """Batch 01: seq 1 missing, seq 2 twice, seq 3 wrong amount, seq 4 unknown code, plus a
    row for an instruction that was never sent."""
    rows = rows.filter(pl.col("seq") != 1)
    rows = pl.concat([rows, rows.filter(pl.col("seq") == 2)])
    rows = rows.with_columns(
        amount_fen=pl.when(pl.col("seq") == 3)
        .then(pl.col("amount_fen") + 1)
        .otherwise(pl.col("amount_fen")),
        code=pl.when(pl.col("seq") == 4).then(pl.lit("7777")).otherwise(pl.col("code")),
    )
    stranger = rows.head(1).with_columns(
        seq=pl.lit(99, pl.Int64), instruction_id=pl.lit("2027NBCB2026112901000099")
    )
    return pl.concat([rows, stranger])


def _review_edits_02(rows: pl.DataFrame) -> pl.DataFrame:
    """Batch 02: seq 1 another account, seq 2 success 1 fen short, seq 3 failure that took money."""
    return rows.with_columns(
        account_no=pl.when(pl.col("seq") == 1)
        .then(pl.lit("6230580000000009999"))
        .otherwise(pl.col("account_no")),
        debited_fen=pl.when(pl.col("seq") == 2)
        .then(pl.col("amount_fen") - 1)
        .when(pl.col("seq") == 3)
        .then(pl.lit(100, pl.Int64))
        .otherwise(pl.col("debited_fen")),
        code=pl.when(pl.col("seq") == 3).then(pl.lit("1001")).otherwise(pl.col("code")),
    )


def test_reconcile__untrusted_rows_go_to_review(campaign: Any) -> None:
    """Each review class of SPEC §5 lands its instruction in review, never in retry."""
    assert campaign.build() == 0
    f1 = campaign.answer(only="2027NBCB2026112901", edit=_review_edits_01)
    f2 = campaign.answer(only="2027NBCB2026112902", edit=_review_edits_02)
    before = set(campaign.reports())
    assert campaign.cli("reconcile", *f1, *f2, as_of="2026-11-30") == 0
    with campaign.ledger() as ledger:
        got = dict(
            ledger.instructions(period=2027)
            .filter(pl.col("batch_id").is_in(["2027NBCB2026112901", "2027NBCB2026112902"]))
            .select("instruction_id", "outcome")
            .iter_rows()
        )
    assert got == {
        "2027NBCB2026112901000001": "MISSING_RESULT",
        "2027NBCB2026112901000002": "DUPLICATE_RESULT",
        "2027NBCB2026112901000003": "AMOUNT_MISMATCH",
        "2027NBCB2026112901000004": "UNKNOWN_CODE",
        "2027NBCB2026112902000001": "ACCOUNT_MISMATCH",
        "2027NBCB2026112902000002": "PARTIAL_DEBIT",
        "2027NBCB2026112902000003": "PARTIAL_DEBIT",
        "2027NBCB2026112902000004": "SUCCEEDED",
    }
    review = _csv(campaign, before, "review.csv")
    assert review.height == 7
    assert set(review["reason_code"]) <= {
        "MISSING_RESULT",
        "DUPLICATE_RESULT",
        "AMOUNT_MISMATCH",
        "UNKNOWN_CODE",
        "ACCOUNT_MISMATCH",
        "PARTIAL_DEBIT",
    }
    unexpected = _csv(campaign, before, "unexpected.csv")
    assert unexpected["instruction_id"].to_list() == ["2027NBCB2026112901000099"]
    with campaign.ledger() as ledger:
        states = ledger.residents(2027).filter(pl.col("state") == "REVIEW")
    assert states.height == 7
    assert campaign.cli("retry", "--as-of", "2026-12-31") == 0  # reviews are never retried
    with campaign.ledger() as ledger:
        assert ledger.scalar("SELECT COUNT(*) FROM batches WHERE kind = 'retry'") == 0
    assert campaign.broken() == []


def test_reconcile__bad_trailer_refuses_file_and_changes_nothing(
    campaign: Any, capsys: Any
) -> None:
    """A result file whose trailer total disagrees is quarantined with its reason; exit 65;
    export is byte-for-byte unchanged; the sound files of the same command are accepted."""
    assert campaign.build() == 0
    files = campaign.answer()
    bad = files[0]
    data = bad.read_bytes()
    body, _, _ = data.rstrip(b"\r\n").rpartition(b"\r\n")
    bad.write_bytes(
        body
        + b"\r\n"
        + (
            b"T0000000002000000000081001" + b" " * 104
            if b"FHRC" in bad.name.encode()
            else b"T|1|1.00"
        )
        + b"\r\n"
    )
    export_before = campaign.export("before.csv")
    capsys.readouterr()
    assert campaign.cli("reconcile", bad, as_of="2026-11-30") == 65
    err = capsys.readouterr().err
    assert bad.name in err
    assert "trailer" in err.lower()
    assert campaign.export("after.csv") == export_before
    quarantined = sorted(p.name for p in (campaign.workdir / "quarantine").iterdir())
    assert len(quarantined) == 2
    assert quarantined[1].endswith(".reason.txt")
    assert campaign.cli("reconcile", *files[1:], as_of="2026-11-30") == 0
    assert campaign.broken() == []


def test_reconcile__replay_changes_nothing(campaign: Any) -> None:
    """The same result file again is reported as a replay, exit 0, and changes nothing."""
    assert campaign.build() == 0
    files = campaign.answer()
    assert campaign.cli("reconcile", *files, as_of="2026-11-30") == 0
    export = campaign.export("one.csv")
    with campaign.ledger() as ledger:
        n = ledger.scalar("SELECT COUNT(*) FROM transitions")
    before = set(campaign.reports())
    assert campaign.cli("reconcile", *files, as_of="2026-12-01") == 0
    assert len(_summary(campaign, before)["files"]["replayed"]) == len(files)
    assert campaign.export("two.csv") == export
    with campaign.ledger() as ledger:
        assert ledger.scalar("SELECT COUNT(*) FROM transitions") == n


def test_reconcile__second_different_file_for_batch_refused(campaign: Any, capsys: Any) -> None:
    """Once a batch has a result file, a different one for it is refused (exit 65)."""
    assert campaign.build() == 0
    (first,) = campaign.answer(only="2027ICBC2026112901")
    assert campaign.cli("reconcile", first, as_of="2026-11-30") == 0
    second = first.with_name("again") / first.name
    second.parent.mkdir()
    second.write_bytes(
        first.read_bytes().replace("处理完成".encode("gb18030"), "已处理".encode("gb18030"))
    )
    capsys.readouterr()
    assert campaign.cli("reconcile", second, as_of="2026-11-30") == 65
    assert "already has" in capsys.readouterr().err


def test_reconcile__unknown_batch_and_bank_refused(campaign: Any) -> None:
    """A result for a batch the ledger never issued is refused."""
    assert campaign.build() == 0
    (real,) = campaign.answer(only="2027ICBC2026112901")
    fake = real.with_name("ICBC_2027ICBC2026112999.ret")
    fake.write_bytes(real.read_bytes().replace(b"2027ICBC2026112901", b"2027ICBC2026112999"))
    assert campaign.cli("reconcile", fake, as_of="2026-11-30") == 65


def test_resolve__settles_only_review_cases(campaign: Any, capsys: Any) -> None:
    """resolve turns a review case into COLLECTED or FAILED with who and why; anything else is
    refused with exit 65."""
    assert campaign.build() == 0
    files = campaign.answer(only="2027NBCB2026112901", edit=_review_edits_01)
    assert campaign.cli("reconcile", *files, as_of="2026-11-30") == 0
    missing, dup = "2027NBCB2026112901000001", "2027NBCB2026112901000002"
    assert (
        campaign.cli(
            "resolve",
            "--instruction",
            missing,
            "--as",
            "succeeded",
            "--note",
            "bank confirmed debit by phone",
            "--operator",
            "王会计",
        )
        == 0
    )
    assert (
        campaign.cli(
            "resolve", "--instruction", dup, "--as", "failed", "--note", "bank says no debit"
        )
        == 0
    )
    with campaign.ledger() as ledger:
        inst = ledger.instruction(missing)
        res = ledger.rows("SELECT decision, operator, note FROM resolutions ORDER BY rowid")
    assert inst is not None
    assert inst["status"] == "SUCCEEDED"
    assert res[0] == ("succeeded", "王会计", "bank confirmed debit by phone")
    assert res[1][0] == "failed"
    assert res[1][1]
    assert campaign.resident(inst["person_id"])["state"] == "COLLECTED"
    capsys.readouterr()
    assert campaign.cli("resolve", "--instruction", missing, "--as", "failed", "--note", "x") == 65
    assert "not in review" in capsys.readouterr().err
    assert campaign.cli("resolve", "--instruction", "NOPE", "--as", "failed", "--note", "x") == 65
    assert campaign.broken() == []


def test_retry__last_allowed_attempt_fails_for_good(campaign: Any) -> None:
    """Three insufficient-funds failures (max_attempts 3) leave the resident FAILED."""
    assert campaign.build() == 0
    pid = campaign.pid("ok_fhrc_0")
    days = ["2026-11-29", "2026-12-02", "2026-12-05"]
    for i, day in enumerate(days):
        if i:
            assert campaign.cli("retry", as_of=day) == 0
        files = campaign.answer({pid: "INSUFFICIENT_FUNDS"}, processed=day)
        assert campaign.cli("reconcile", *files, as_of=day) == 0
    person = campaign.resident(pid)
    assert (person["state"], person["attempts"], person["last_reason"]) == (
        "FAILED",
        3,
        "INSUFFICIENT_FUNDS",
    )
    assert campaign.cli("retry", as_of="2026-12-20") == 0
    with campaign.ledger() as ledger:
        assert ledger.scalar("SELECT COUNT(*) FROM instructions WHERE person_id = ?", [pid]) == 3
    assert campaign.broken() == []


def test_resolve__second_success_settled_failed_keeps_resident_collected(campaign: Any) -> None:
    """A second success settled as failed leaves the resident COLLECTED by the first one."""
    assert campaign.build() == 0
    (first,) = campaign.answer(only="2027ICBC2026112901")
    assert campaign.cli("reconcile", first, as_of="2026-11-30") == 0
    pid = campaign.pid("ok_icbc_0")
    # A second instruction for the same resident reaches the bank (as after a manual resend).
    with campaign.ledger() as ledger, ledger.write() as w:
        w.add_run("manual", "test", "2026-12-01", "2026-12-01T00:00:00")
        w._db.execute(
            "INSERT INTO batches VALUES ('2027ICBC2026120101','ICBC',2027,'2026-12-01',1,'build',"
            "'manual',1,38000,'ICBC_2027ICBC2026120101.req','x','gb18030','pipe',NULL)"
        )
        w._db.execute(
            "INSERT INTO instructions (instruction_id, batch_id, seq, person_id, period, township,"
            " attempt, account_no, name, amount_fen) SELECT '2027ICBC2026120101000001',"
            " '2027ICBC2026120101', 1, person_id, period, township, 2, account_no, name, amount_fen"
            " FROM instructions WHERE person_id = ? AND attempt = 1",
            [pid],
        )
    from premium_debit.config import load_config as _load
    from premium_debit.pipeline.outbox import render_batch
    from premium_debit.workspace import sha256_bytes

    with campaign.ledger() as ledger:
        row = ledger.instruction("2027ICBC2026120101000001")
        batch = ledger.batch("2027ICBC2026120101")
        assert batch is not None
        data = render_batch(
            batch, ledger.instructions(batch_id=batch["batch_id"]), _load(campaign.config)
        )
        with ledger.write() as w:
            w._db.execute(
                "UPDATE batches SET file_sha256 = ? WHERE batch_id = ?",
                [sha256_bytes(data), batch["batch_id"]],
            )
    (campaign.workdir / "outbox" / "ICBC" / batch["file_name"]).write_bytes(data)
    assert row is not None
    from datetime import date

    from premium_debit.config import load_config
    from premium_debit.formats.bankfile import ResultHeader, render_result
    from premium_debit.pipeline.profiles import bank_profiles

    bank = bank_profiles(load_config(campaign.config))["ICBC"]
    rows = pl.DataFrame(
        {
            "seq": [1],
            "instruction_id": [row["instruction_id"]],
            "account_no": [row["account_no"]],
            "amount_fen": [row["amount_fen"]],
            "debited_fen": [row["amount_fen"]],
            "code": ["0000"],
            "message": ["成功"],
            "bank_ref": ["R9"],
        }
    )
    second = campaign.root / "results" / "ICBC_2027ICBC2026120101.ret"
    second.write_bytes(
        render_result(
            bank.layout,
            bank.encoding,
            ResultHeader("2027ICBC2026120101", "ICBC", date(2026, 12, 2)),
            rows,
            bank.success_codes,
        )
    )
    assert campaign.cli("reconcile", second, as_of="2026-12-02") == 0
    with campaign.ledger() as ledger:
        assert ledger.instruction("2027ICBC2026120101000001")["outcome"] == "SECOND_SUCCESS"
        assert ledger.refunds(2027)["cause"].to_list() == ["SECOND_SUCCESS"]
    assert (
        campaign.cli(
            "resolve",
            "--instruction",
            "2027ICBC2026120101000001",
            "--as",
            "failed",
            "--note",
            "refunded to the resident",
        )
        == 0
    )
    assert campaign.resident(pid)["state"] == "COLLECTED"


def test_reconcile__reason_file_lists_every_problem(campaign: Any) -> None:
    """A refused file's .reason.txt lists every problem found, each with its line."""
    from datetime import date

    from premium_debit.config import load_config
    from premium_debit.formats.bankfile import ResultHeader, parse_request, render_result
    from premium_debit.pipeline.profiles import bank_profiles

    assert campaign.build() == 0
    bank = bank_profiles(load_config(campaign.config))["NBCB"]
    req = campaign.workdir / "outbox" / "NBCB" / "NBCB_2027NBCB2026112901.req"
    rows = parse_request(bank.layout, bank.encoding, req.read_bytes(), req.name).details
    details = rows.select("seq", "instruction_id", "account_no", "amount_fen").with_columns(
        debited_fen=pl.col("amount_fen"),
        code=pl.lit("0000"),
        message=pl.lit("成功"),
        bank_ref=pl.lit("R1"),
    )
    data = render_result(
        bank.layout,
        bank.encoding,
        ResultHeader("2027NBCB2026112901", "NBCB", date(2026, 11, 30)),
        details,
        bank.success_codes,
        overrides={"header.count": 9, "trailer.total_fen": 1},
    )
    bad = campaign.root / "NBCB_2027NBCB2026112901.ret"
    bad.write_bytes(data)
    assert campaign.cli("reconcile", bad, as_of="2026-11-30") == 65
    (reason,) = (campaign.workdir / "quarantine").glob("*.reason.txt")
    lines = reason.read_text("utf-8").splitlines()
    assert "more problem" in lines[0]
    assert any("line 1" in x and "count" in x for x in lines[1:])
    assert any("line 6" in x and "total" in x for x in lines[1:])


def test_reconcile__batch_of_another_bank_refused(campaign: Any, capsys: Any) -> None:
    """A result file whose header names a batch that belongs to another bank is refused (65)."""
    assert campaign.build() == 0
    (real,) = campaign.answer(only="2027NBCB2026112901")
    # The NBCB bank answering for ICBC's batch: name and header agree, the batch's bank does not.
    forged = real.with_name("NBCB_2027ICBC2026112901.ret")
    forged.write_bytes(real.read_bytes().replace(b"2027NBCB2026112901", b"2027ICBC2026112901"))
    export = campaign.export("before.csv")
    capsys.readouterr()
    assert campaign.cli("reconcile", forged, as_of="2026-11-30") == 65
    assert "belongs to bank ICBC" in capsys.readouterr().err
    assert campaign.export("after.csv") == export
