"""The command line's promises (SPEC §8): one plain line per failure, the right exit code."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path
from typing import Any

from premium_debit.cli import main


def test_init__writes_config_and_folders(tmp_path: Path, capsys: Any) -> None:
    """init writes a loadable commented configuration and the work folders; never overwrites."""
    assert main(["init", str(tmp_path / "agency")]) == 0
    config = tmp_path / "agency" / "premium-debit.toml"
    text = config.read_text("utf-8")
    assert text.count("[[townships]]") == 6
    assert text.count("[[banks]]") == 3
    assert '"fixed"' in text
    assert "#" in text
    for folder in ("inbox", "outbox", "archive", "quarantine", "reports", "logs"):
        assert (tmp_path / "agency" / "var" / folder).is_dir()
    capsys.readouterr()
    assert main(["init", str(tmp_path / "agency")]) == 78
    assert "already exists" in capsys.readouterr().err


def test_config__unknown_key_is_one_line_naming_it(campaign: Any, capsys: Any) -> None:
    """A misspelt key exits 78 with one line naming the file and the key."""
    campaign.config.write_text(
        campaign.config.read_text("utf-8").replace("min_days_between", "min_day_between"), "utf-8"
    )
    capsys.readouterr()
    assert campaign.cli("export", "--out", campaign.root / "x.csv") == 78
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "premium-debit.toml" in err
    assert "retry.min_day_between: unknown key" in err


def test_config__bad_values_name_their_key(campaign: Any, capsys: Any) -> None:
    """An unknown encoding and a bad bank code are refused with their key (exit 78)."""
    original = campaign.config.read_text("utf-8")
    for old, new, key in (
        ('encoding = "gbk"', 'encoding = "gbx"', "banks[2].encoding"),
        ('code = "ICBC"', 'code = "icbc"', "banks[1].code"),
    ):
        campaign.config.write_text(original.replace(old, new), "utf-8")
        capsys.readouterr()
        assert campaign.cli("export", "--out", campaign.root / "x.csv") == 78
        assert key in capsys.readouterr().err


def test_cli__internal_error_is_one_line_without_traceback(
    campaign: Any, capsys: Any, monkeypatch: Any
) -> None:
    """A bug exits 70 with one plain line; --debug adds the traceback."""
    from premium_debit.pipeline import build

    def broken(*_a: Any, **_k: Any) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(build, "run_build", broken)
    capsys.readouterr()
    assert campaign.build() == 70
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "internal error" in err
    assert "Traceback" not in err
    assert campaign.build("--debug") == 70
    assert "Traceback" in capsys.readouterr().err


def test_io__transient_read_error_is_retried(campaign: Any, monkeypatch: Any) -> None:
    """An EAGAIN reading an input is retried (and logged); the run then succeeds."""
    real = Path.read_bytes
    failures = {"left": 2}

    def flaky(self: Path) -> bytes:
        if self.name == "registry.csv" and failures["left"]:
            failures["left"] -= 1
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", flaky)
    assert campaign.build() == 0
    assert failures["left"] == 0
    logs = "".join(p.read_text("utf-8") for p in (campaign.workdir / "logs").glob("*.jsonl"))
    assert logs.count('"io_retry"') == 2


def test_io__missing_file_is_not_retried(campaign: Any, capsys: Any) -> None:
    """A missing input is bad input, not a transient failure: exit 65 at once, no retries."""
    capsys.readouterr()
    assert (
        campaign.cli("build", "--due", campaign.root / "nope.csv", "--registry", campaign.registry)
        == 65
    )
    assert "nope.csv: file not found" in capsys.readouterr().err
    logs = "".join(p.read_text("utf-8") for p in (campaign.workdir / "logs").glob("*.jsonl"))
    assert '"io_retry"' not in logs


def test_ledger__busy_writer_exits_75_after_retries(
    campaign: Any, capsys: Any, monkeypatch: Any
) -> None:
    """While another connection holds the ledger's write lock, a command retries with backoff
    (each attempt logged), then exits 75 so cron tries again."""
    from premium_debit.ledger import store

    assert campaign.build() == 0
    monkeypatch.setattr(
        store.Ledger.__init__, "__kwdefaults__", {"busy_timeout_ms": 10, "begin_attempts": 3}
    )
    other = sqlite3.connect(campaign.workdir / "ledger.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        files = campaign.answer()
        capsys.readouterr()
        assert campaign.cli("reconcile", *files, as_of="2026-11-30") == 75
        assert "ledger is busy" in capsys.readouterr().err
    finally:
        other.execute("ROLLBACK")
        other.close()
    logs = "".join(p.read_text("utf-8") for p in (campaign.workdir / "logs").glob("*.jsonl"))
    assert logs.count('"ledger_busy"') == 2
    assert campaign.cli("reconcile", *files, as_of="2026-11-30") == 0


def test_ledger__snapshot_sees_one_state_while_another_process_commits(campaign: Any) -> None:
    """Inside a snapshot, a commit by another connection is not seen; after it, it is."""
    assert campaign.build() == 0
    other = sqlite3.connect(campaign.workdir / "ledger.sqlite", isolation_level=None)
    try:
        with campaign.ledger() as ledger:
            with ledger.snapshot():
                before = ledger.scalar("SELECT COUNT(*) FROM runs")
                other.execute(
                    "INSERT INTO runs VALUES ('x', 'test', '2026-11-29', '2026-11-29T00:00:00')"
                )
                assert ledger.scalar("SELECT COUNT(*) FROM runs") == before
            assert ledger.scalar("SELECT COUNT(*) FROM runs") == before + 1
    finally:
        other.close()
