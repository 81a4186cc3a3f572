"""Fuzz: mutated result files through reconcile — accepted or refused with a reason, never an
unhandled exception, never a partial ledger change."""

from __future__ import annotations

import shutil
import tempfile
from datetime import date
from functools import cache
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from premium_debit.cli import main
from premium_debit.config import load_config
from premium_debit.ledger.invariants import broken_invariants
from premium_debit.ledger.store import Ledger
from premium_debit.pipeline.context import RunContext
from premium_debit.pipeline.profiles import bank_profiles
from premium_debit.pipeline.reconcile import reconcile_file
from premium_debit.reports.export import export_bytes
from premium_debit.simulate.bank import simulate_bank

REPO = Path(__file__).resolve().parents[2]
DUE = tuple(sorted(p.name for p in (REPO / "fixtures" / "campaign").glob("due_*")))


@cache
def _template() -> tuple[Path, dict[str, bytes]]:
    """A built fixture campaign and the bank's sound answers, made once per session."""
    root = Path(tempfile.mkdtemp(prefix="fuzz-campaign-"))
    shutil.copytree(
        REPO / "fixtures" / "campaign",
        root,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("expected", "*.py"),
    )
    config = root / "premium-debit.toml"
    args = [
        "build",
        "--config",
        str(config),
        "--as-of",
        "2026-11-29",
        "--due",
        *[str(root / d) for d in DUE],
        "--registry",
        str(root / "registry.csv"),
    ]
    assert main(args) == 0
    requests = sorted((root / "var" / "outbox").rglob("*.req"))
    results = simulate_bank(requests, root / "results", load_config(config), seed=7)
    return root, {p.name: p.read_bytes() for p in results}


def _mutate(data: bytes, draw: st.DataObject) -> bytes:
    kind = draw.draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup_line", "digit"]))
    pos = draw.draw(st.integers(0, max(len(data) - 1, 0)))
    if kind == "flip":
        return data[:pos] + bytes([data[pos] ^ draw.draw(st.integers(1, 255))]) + data[pos + 1 :]
    if kind == "insert":
        return data[:pos] + draw.draw(st.binary(min_size=1, max_size=4)) + data[pos:]
    if kind == "delete":
        return data[:pos] + data[pos + draw.draw(st.integers(1, 8)) :]
    if kind == "truncate":
        return data[:pos]
    lines = data.split(b"\r\n")
    i = draw.draw(st.integers(0, max(len(lines) - 2, 0)))
    if kind == "dup_line":
        return b"\r\n".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])
    line = lines[i]
    digits = [j for j, c in enumerate(line) if 48 <= c <= 57]
    if digits:
        j = draw.draw(st.sampled_from(digits))
        line = line[:j] + bytes([48 + (line[j] - 47) % 10]) + line[j + 1 :]
    return b"\r\n".join([*lines[:i], line, *lines[i + 1 :]])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz__mutated_results_accepted_or_refused_never_partial(data: st.DataObject) -> None:
    """Every mutated file is accepted (invariants hold) or refused with a reason (ledger byte-
    for-byte unchanged); nothing raises."""
    template, results = _template()
    work = Path(tempfile.mkdtemp(prefix="fuzz-run-"))
    try:
        shutil.copytree(template, work, dirs_exist_ok=True)
        name = data.draw(st.sampled_from(sorted(results)))
        mutated = _mutate(results[name], data)
        cfg = load_config(work / "premium-debit.toml")
        ctx = RunContext.start(cfg, "reconcile", date(2026, 11, 30))
        with Ledger(cfg.workdir / "ledger.sqlite") as ledger:
            before = export_bytes(ledger)
            outcome = reconcile_file(work / name, ctx, ledger, bank_profiles(cfg), data=mutated)
            assert outcome.status in ("accepted", "refused")
            if outcome.status == "refused":
                assert outcome.reason
                assert export_bytes(ledger) == before
                assert ledger.scalar("SELECT COUNT(*) FROM results") == 0
            else:
                assert broken_invariants(ledger) == []
                awaiting = ledger.instructions(batch_id=outcome.batch_id, status="AWAITING")
                assert awaiting.height == 0
    finally:
        shutil.rmtree(work)
