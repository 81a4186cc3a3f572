"""Result files named after their condition (fixtures/campaign/results/<condition>/), each with
the classification reconcile must give (expected.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

RESULTS = Path(__file__).resolve().parents[2] / "fixtures" / "campaign" / "results"
CONDITIONS = sorted(p.name for p in RESULTS.iterdir() if p.is_dir())


def test_result_fixtures__every_row_level_condition_is_present() -> None:
    """One folder per row-level review class of SPEC §5."""
    assert (
        sorted(
            [
                "account_mismatch",
                "amount_mismatch",
                "duplicate_row",
                "missing_row",
                "partial_debit",
                "unexpected_row",
                "unknown_code",
            ]
        )
        == CONDITIONS
    )


@pytest.mark.parametrize("condition", CONDITIONS)
def test_result_fixtures__classified_as_expected(campaign: Any, condition: str) -> None:
    """Reconciling the condition's files gives every instruction exactly its expected class."""
    assert campaign.build() == 0
    folder = RESULTS / condition
    expected = json.loads((folder / "expected.json").read_text("utf-8"))
    files = sorted(folder.glob("*.ret"))
    assert sorted(f.name for f in files) == sorted(expected)
    assert campaign.cli("reconcile", *files, as_of="2026-11-30") == 0
    with campaign.ledger() as ledger:
        got = dict(ledger.instructions(period=2027).select("instruction_id", "outcome").iter_rows())
        results = ledger.rows("SELECT instruction_id, class FROM results")
    for name, per_instruction in expected.items():
        for instruction_id, klass in per_instruction.items():
            if klass == "UNEXPECTED_RESULT":
                assert (instruction_id, klass) in results, (name, instruction_id)
                assert instruction_id not in got
            else:
                assert got[instruction_id] == klass, (name, instruction_id)
    assert campaign.broken() == []
