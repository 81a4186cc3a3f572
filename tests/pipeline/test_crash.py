"""Crash safety (SPEC §6): SIGKILL build, reconcile and nightly at random moments, run them again,
and check every invariant and that the outbox matches the ledger byte for byte."""

from __future__ import annotations

import hashlib
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SEED = 20261129
MIN_KILLS = 30


def _outbox_matches_ledger(campaign: Any) -> list[str]:
    problems = []
    with campaign.ledger() as ledger:
        batches = ledger.batches()
    outbox = campaign.workdir / "outbox"
    known = set()
    for b in batches.iter_rows(named=True):
        path = outbox / b["bank_code"] / b["file_name"]
        known.add(path)
        if not path.exists():
            problems.append(f"missing {b['file_name']}")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != b["file_sha256"]:
            problems.append(f"differs {b['file_name']}")
    strays = [p for p in outbox.rglob("*") if p.is_file() and p not in known]
    problems += [f"stray {p.name}" for p in strays]
    return problems


class Killer:
    def __init__(self, rng: random.Random, env: dict[str, str]) -> None:
        self.rng = rng
        self.env = env
        self.kills = 0
        self.missed = 0
        self.by_command: dict[str, int] = {}

    def run_and_kill(self, campaign: Any, args: list[str], span: float) -> None:
        cmd = [sys.executable, "-m", "premium_debit", *args]
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env
        )
        time.sleep(self.rng.uniform(0.0, span))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            self.kills += 1
            self.by_command[args[0]] = self.by_command.get(args[0], 0) + 1
        else:
            self.missed += 1
        proc.wait()
        assert campaign.broken() == [], f"after killing {args[0]}"


def _args(campaign: Any, command: str, *rest: str | Path, as_of: str = "2026-11-29") -> list[str]:
    return [command, "--config", str(campaign.config), "--as-of", as_of, *map(str, rest)]


def test_crash__sigkill_anywhere_keeps_invariants(
    campaign: Any, record_property: Any, subprocess_env: dict[str, str]
) -> None:
    """At least 30 SIGKILLs across build, reconcile and nightly; after each, and after running
    the command again, every invariant holds and the outbox equals the ledger."""
    rng = random.Random(SEED)
    killer = Killer(rng, subprocess_env)
    base = campaign.root
    rounds = 0
    while killer.kills < MIN_KILLS and rounds < 40:
        rounds += 1
        # Build, killed, then run again to completion.
        c = type(campaign)(base.parent / f"round{rounds}")
        shutil.copytree(base, c.root, ignore=shutil.ignore_patterns("var", "results"))
        build = _args(c, "build", "--due", *c.due, "--registry", c.registry, "--paid", c.paid)
        killer.run_and_kill(c, build, span=2.5)
        assert c.cli(*build[:1], *build[5:], as_of="2026-11-29") == 0
        assert _outbox_matches_ledger(c) == []
        assert c.broken() == []
        # Reconcile, killed, then again: replays of what was already accepted are fine.
        files = c.answer({c.pid("ok_nbcb_0"): "INSUFFICIENT_FUNDS"})
        killer.run_and_kill(c, _args(c, "reconcile", *files, as_of="2026-11-30"), span=2.5)
        assert c.cli("reconcile", *files, as_of="2026-11-30") == 0
        with c.ledger() as ledger:
            assert ledger.instructions(status="AWAITING").height == 0
        assert _outbox_matches_ledger(c) == []
        assert c.broken() == []
        # Nightly with a fresh inbox, killed, then again.
        n = type(campaign)(base.parent / f"night{rounds}")
        shutil.copytree(base, n.root, ignore=shutil.ignore_patterns("var", "results"))
        inbox = n.workdir / "inbox"
        inbox.mkdir(parents=True)
        for p in [*n.due, n.registry, n.paid]:
            shutil.copy(p, inbox / p.name)
            (inbox / (p.name + ".done")).write_bytes(b"")
        killer.run_and_kill(n, _args(n, "nightly"), span=3.0)
        assert n.cli("nightly") in (0, 65)
        assert n.cli("nightly") == 0  # and nothing left to do
        assert _outbox_matches_ledger(n) == []
        assert n.broken() == []
        with n.ledger() as ledger:
            assert ledger.instructions().height == 21
            assert ledger.payments().height == 1
        shutil.rmtree(c.root)
        shutil.rmtree(n.root)
    report = (
        f"crash test: {killer.kills} SIGKILLs ({killer.by_command}), {killer.missed} runs "
        f"finished before their kill, {rounds} rounds: every invariant held"
    )
    record_property("summary", report)
    assert killer.kills >= MIN_KILLS, report
    assert all(killer.by_command.get(c, 0) >= 5 for c in ("build", "reconcile", "nightly")), report
