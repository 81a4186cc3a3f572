"""nightly: complete inbox files only, told apart by content, archived or quarantined each on
its own; a second run does nothing new; a held lock exits 75; write errors change nothing."""

from __future__ import annotations

import errno
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest


def _drop(campaign: Any, *paths: Path, done: bool = True) -> None:
    inbox = campaign.workdir / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    for p in paths:
        shutil.copy(p, inbox / p.name)
        if done:
            (inbox / (p.name + ".done")).write_bytes(b"")


def _counts(campaign: Any) -> list[int]:
    with campaign.ledger() as ledger:
        return [
            ledger.scalar(f"SELECT COUNT(*) FROM {t}")
            for t in ("instructions", "batches", "transitions", "residents", "payments", "results")
        ]


def test_nightly__ingests_inbox_and_second_run_does_nothing(campaign: Any) -> None:
    """Due lists, registry and paid list in the inbox are built; the inbox empties into the
    archive; a second nightly the same night changes nothing."""
    _drop(campaign, *campaign.due, campaign.registry, campaign.paid)
    assert campaign.cli("nightly") == 0
    assert sorted(os.listdir(campaign.workdir / "inbox")) == []
    assert len(list((campaign.workdir / "archive").iterdir())) == 8
    counts = _counts(campaign)
    assert counts[0] == 21  # 15 ok_* cases + 6 state_* cases (no seeded states here)
    assert counts[4] == 1  # the paid-list resident: recorded, never instructed
    assert campaign.cli("nightly") == 0
    assert _counts(campaign) == counts
    assert campaign.broken() == []


def test_nightly__results_then_retry_then_new_due_list(campaign: Any) -> None:
    """Result files in the inbox are reconciled; a file still being written waits; garbage is
    quarantined with exit 65 while the rest proceeds."""
    _drop(campaign, *campaign.due, campaign.registry)
    assert campaign.cli("nightly") == 0
    files = campaign.answer({campaign.pid("ok_nbcb_0"): "INSUFFICIENT_FUNDS"})
    _drop(campaign, *files)
    junk = campaign.root / "notes.txt"
    junk.write_text("hello\n", "utf-8")
    _drop(campaign, junk)
    fresh = campaign.root / "late.csv"
    fresh.write_bytes(campaign.paid.read_bytes())
    _drop(campaign, fresh, done=False)  # no marker, just written: left for the next night
    assert campaign.cli("nightly", as_of="2026-11-30") == 65
    assert os.listdir(campaign.workdir / "inbox") == ["late.csv"]
    quarantine = sorted(p.name for p in (campaign.workdir / "quarantine").iterdir())
    assert any(n.endswith("notes.txt") for n in quarantine)
    assert campaign.resident(campaign.pid("ok_nbcb_0"))["state"] == "RETRY_PENDING"
    assert campaign.resident(campaign.pid("ok_nbcb_1"))["state"] == "COLLECTED"
    (report,) = [p for p in campaign.reports() if "nightly" in p.name][-1:]
    summary = json.loads((report / "summary.json").read_text("utf-8"))
    assert summary["files"]["waiting"] == ["late.csv"]
    assert (report / "report" / "report.xlsx").stat().st_size > 0  # the night ends with the report
    assert summary["conservation"]["holds"] is True
    # Three days later the retry goes out by itself.
    assert campaign.cli("nightly", as_of="2026-12-03") == 0
    assert campaign.resident(campaign.pid("ok_nbcb_0"))["state"] == "AWAITING_RESULT"
    assert campaign.broken() == []


def _hold_lock(workdir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from premium_debit.ledger.lock import workdir_lock\n"
        f"with workdir_lock(Path({str(workdir)!r})):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"held"
    return proc


def test_nightly__held_lock_exits_75_at_once(
    campaign: Any, capsys: Any, subprocess_env: dict[str, str]
) -> None:
    """While another run holds the lock, nightly exits 75 at once with one clear line."""
    campaign.workdir.mkdir(parents=True)
    holder = _hold_lock(campaign.workdir, subprocess_env)
    try:
        started = time.monotonic()
        capsys.readouterr()
        assert campaign.cli("nightly") == 75
        assert time.monotonic() - started < 5
        err = capsys.readouterr().err.strip()
        assert "another premium-debit run holds the lock" in err
        assert "\n" not in err
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
    assert campaign.cli("nightly") == 0  # the kernel released the killed holder's lock


def test_nightly__concurrent_runs_never_overlap(
    campaign: Any, subprocess_env: dict[str, str]
) -> None:
    """Two nightly processes started together: never both inside the lock at once."""
    _drop(campaign, *campaign.due, campaign.registry, campaign.paid)
    cmd = [
        sys.executable,
        "-m",
        "premium_debit",
        "nightly",
        "--config",
        str(campaign.config),
        "--as-of",
        "2026-11-29",
    ]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=subprocess_env)
        for _ in range(2)
    ]
    codes = sorted(p.communicate(timeout=120) and p.returncode for p in procs)
    assert codes in ([0, 0], [0, 75])
    events = [
        json.loads(line)
        for f in (campaign.workdir / "logs").glob("*.jsonl")
        for line in f.read_text("utf-8").splitlines()
    ]
    spans: dict[int, list[float]] = {}
    for e in events:
        if e["event"] in ("lock_acquired", "lock_released"):
            spans.setdefault(e["pid"], []).append(e["at"])
    intervals = sorted(tuple(v) for v in spans.values())
    assert len(intervals) == codes.count(0)
    for (_, end), (start, _) in itertools.pairwise(intervals):
        assert end <= start
    assert campaign.broken() == []


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EIO])
def test_build__write_error_changes_nothing(
    campaign: Any, monkeypatch: Any, capsys: Any, err: int
) -> None:
    """A disk-full or I/O error while writing the request files fails the run cleanly (exit 75,
    one line) and leaves ledger, outbox and reports as they were."""
    real_fsync = os.fsync
    calls = {"n": 0}

    def failing_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # somewhere among the staged request files
            raise OSError(err, os.strerror(err))
        real_fsync(fd)

    campaign.workdir.mkdir(parents=True)
    export_before = campaign.export("before.csv")
    monkeypatch.setattr(os, "fsync", failing_fsync)
    capsys.readouterr()
    assert campaign.build() == 75
    monkeypatch.setattr(os, "fsync", real_fsync)
    err_line = capsys.readouterr().err.strip()
    assert os.strerror(err) in err_line
    assert "\n" not in err_line
    assert campaign.export("after.csv") == export_before
    assert campaign.outbox_files() == {}
    leftovers = [p for p in campaign.workdir.rglob("*") if p.is_file() and ".staged-" in p.name]
    assert leftovers == []
    assert campaign.build() == 0  # once there is room again, the same command goes through
    assert len(campaign.outbox_files()) == 6
