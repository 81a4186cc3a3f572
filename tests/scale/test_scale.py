"""Scale (slow, out of the default run: ``pytest -m slow``): a million residents through build,
the bank and reconcile keep conservation and the no-double-debit invariants."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import pytest

from premium_debit.cli import main
from premium_debit.config import load_config
from premium_debit.ledger.invariants import broken_invariants
from premium_debit.ledger.store import Ledger
from premium_debit.simulate.bank import simulate_bank
from premium_debit.simulate.generate import generate_campaign

RESIDENTS = 1_000_000


@pytest.mark.slow
def test_scale__million_residents_conserve_and_never_double_debit(tmp_path: Path) -> None:
    """1,000,000 residents: every due record in one bucket, every instruction one outcome,
    at most one awaiting and one success per resident, in count and fen."""
    config = tmp_path / "premium-debit.toml"
    sample = resources.files("premium_debit").joinpath("sample_config.toml")
    config.write_text(sample.read_text("utf-8"), "utf-8")
    files = generate_campaign(tmp_path / "inputs", residents=RESIDENTS, seed=11)
    common = ["--config", str(config)]
    due = [str(p) for p in files.due]
    assert (
        main(
            [
                "build",
                *common,
                "--as-of",
                "2026-11-29",
                "--due",
                *due,
                "--registry",
                str(files.registry),
            ]
        )
        == 0
    )
    work = load_config(config).workdir
    (build_report,) = [p for p in (work / "reports").iterdir() if "-build-" in p.name]
    summary = json.loads((build_report / "summary.json").read_text("utf-8"))
    assert summary["conservation"]["holds"] is True
    assert summary["due"]["count"] >= RESIDENTS
    requests = sorted((work / "outbox").rglob("*.req"))
    results = simulate_bank(requests, tmp_path / "bank", load_config(config), seed=3)
    assert main(["reconcile", *common, "--as-of", "2026-11-30", *map(str, results)]) == 0
    with Ledger(work / "ledger.sqlite") as ledger:
        assert broken_invariants(ledger) == []
        assert ledger.scalar("SELECT COUNT(*) FROM instructions WHERE status = 'AWAITING'") == 0
        doubles = ledger.scalar(
            "SELECT COUNT(*) FROM (SELECT person_id FROM instructions WHERE status = 'SUCCEEDED' "
            "GROUP BY person_id, period HAVING COUNT(*) > 1)"
        )
        assert doubles == 0
        instructed = ledger.scalar("SELECT COUNT(*), SUM(amount_fen) FROM instructions")
        assert instructed == summary["buckets"]["instructed"]["count"]
    (rec_report,) = [p for p in (work / "reports").iterdir() if "-reconcile-" in p.name]
    rec = json.loads((rec_report / "summary.json").read_text("utf-8"))
    assert rec["conservation"]["holds"] is True
    shutil.rmtree(tmp_path / "inputs")
