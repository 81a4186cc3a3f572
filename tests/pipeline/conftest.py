"""Shared fixtures for pipeline tests: a private copy of the fixture campaign and a CLI runner."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from premium_debit.cli import main
from premium_debit.ledger.store import Ledger

REPO = Path(__file__).resolve().parents[2]
CAMPAIGN = REPO / "fixtures" / "campaign"
AS_OF = "2026-11-29"
DUE_FILES = tuple(sorted(p.name for p in CAMPAIGN.glob("due_*")))  # the six lists, every encoding


@dataclass
class Campaign:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "premium-debit.toml"

    @property
    def workdir(self) -> Path:
        return self.root / "var"

    @property
    def due(self) -> list[Path]:
        return [self.root / n for n in DUE_FILES]

    @property
    def registry(self) -> Path:
        return self.root / "registry.csv"

    @property
    def paid(self) -> Path:
        return self.root / "paid.csv"

    def ledger(self) -> Ledger:
        return Ledger(self.workdir / "ledger.sqlite")

    def cli(self, *args: str | Path, as_of: str = AS_OF) -> int:
        """Run one premium-debit command in-process; returns its exit code."""
        command, *rest = [str(a) for a in args]
        return main([command, "--config", str(self.config), "--as-of", as_of, *rest])

    def build(self, *extra: str | Path, as_of: str = AS_OF, paid: bool = True) -> int:
        args: list[str | Path] = ["build", "--due", *self.due, "--registry", self.registry]
        if paid:
            args += ["--paid", self.paid]
        return self.cli(*args, *extra, as_of=as_of)

    def seed_states(self) -> None:
        """Give the residents of seed_states.csv their state, as earlier runs would have."""
        with (self.root / "seed_states.csv").open(encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        frame = pl.DataFrame(rows).select(
            "person_id",
            period=pl.lit(2027, pl.Int64),
            township=pl.lit("西坞街道"),
            village=pl.lit(None, pl.String),
            name=pl.lit("seed"),
            category=pl.lit("成年居民"),
            amount_due_fen=pl.lit(54000, pl.Int64),
            state="state",
            attempts=pl.lit(1, pl.Int64),
            last_reason=pl.lit(None, pl.String),
            state_since=pl.lit("2026-11-01"),
        )
        with self.ledger() as ledger, ledger.write() as w:
            w.upsert_residents(frame)

    def cases(self) -> pl.DataFrame:
        return pl.read_csv(self.root / "cases.csv", infer_schema=False).with_columns(
            pl.col("expected_reason").fill_null("")
        )

    def reports(self) -> list[Path]:
        return sorted((self.workdir / "reports").iterdir())

    def outbox_files(self) -> dict[str, bytes]:
        out = self.workdir / "outbox"
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.req"))}

    def export(self, name: str = "export.csv") -> bytes:
        out = self.root / name
        assert self.cli("export", "--out", out) == 0
        return out.read_bytes()

    def answer(
        self,
        outcomes: dict[str, str] | None = None,
        *,
        default: str = "SUCCEEDED",
        edit: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
        only: str | None = None,
        processed: str = "2026-11-30",
    ) -> list[Path]:
        """Play a scripted bank: answer each request file in the outbox (or only ``only``) with a
        result file in ``results/``; ``outcomes`` maps person_id → outcome, others get
        ``default``; ``edit`` may change the detail rows before rendering (to plant defects)."""
        from datetime import date

        from premium_debit.config import load_config
        from premium_debit.formats.bankfile import ResultHeader, parse_request, render_result
        from premium_debit.pipeline.profiles import bank_profiles

        banks = bank_profiles(load_config(self.config))
        out = self.root / "results"
        out.mkdir(exist_ok=True)
        written = []
        for req in sorted((self.workdir / "outbox").rglob("*.req")):
            if only is not None and only not in req.name:
                continue
            ret = out / req.name.replace(".req", ".ret")
            if ret.exists():
                continue
            bank = banks[req.name[:4]]
            parsed = parse_request(bank.layout, bank.encoding, req.read_bytes(), req.name)
            assert not parsed.problems, parsed.problems
            code_of = {o: c for c, o in sorted(bank.codes.items(), reverse=True)}
            wanted = pl.DataFrame(
                {
                    "person_id": list((outcomes or {}).keys()),
                    "outcome": list((outcomes or {}).values()),
                },
                schema={"person_id": pl.String, "outcome": pl.String},
            )
            rows = (
                parsed.details.join(wanted, on="person_id", how="left")
                .with_columns(pl.col("outcome").fill_null(default))
                .with_columns(
                    code=pl.col("outcome").replace_strict(code_of),
                    debited_fen=pl.when(pl.col("outcome") == "SUCCEEDED")
                    .then(pl.col("amount_fen"))
                    .otherwise(0),
                    message=pl.lit("处理完成"),
                    bank_ref=pl.concat_str([pl.lit("R"), pl.col("seq").cast(pl.String)]),
                )
                .select(
                    "seq",
                    "instruction_id",
                    "account_no",
                    "amount_fen",
                    "debited_fen",
                    "code",
                    "message",
                    "bank_ref",
                )
            )
            if edit is not None:
                rows = edit(rows)
            header = ResultHeader(
                str(parsed.header["batch_id"]), bank.code, date.fromisoformat(processed)
            )
            ret.write_bytes(
                render_result(bank.layout, bank.encoding, header, rows, bank.success_codes)
            )
            written.append(ret)
        return written

    def resident(self, person_id: str) -> dict[str, object]:
        with self.ledger() as ledger:
            rows = ledger.residents(2027).filter(pl.col("person_id") == person_id)
        assert rows.height == 1, person_id
        return rows.row(0, named=True)

    def broken(self) -> list[str]:
        from premium_debit.ledger.invariants import broken_invariants

        with self.ledger() as ledger:
            return broken_invariants(ledger)

    def pid(self, case: str) -> str:
        return str(self.cases().filter(pl.col("case") == case)["person_id"][0])


def checkout_env() -> dict[str, str]:
    """Environment for subprocesses that must run this checkout's code, not whatever an
    editable install elsewhere points at."""
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    return env


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    return checkout_env()


@pytest.fixture
def campaign(tmp_path: Path) -> Campaign:
    root = tmp_path / "campaign"
    shutil.copytree(CAMPAIGN, root, ignore=shutil.ignore_patterns("expected", "*.py", "var"))
    return Campaign(root)


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[Path, bytes], None]:
    """Compare bytes with a golden file; ``pytest --update-goldens`` rewrites it instead."""
    update = bool(request.config.getoption("--update-goldens", default=False))

    def check(path: Path, actual: bytes) -> None:
        if update or not path.exists():
            if not update:
                pytest.fail(f"golden file {path} is missing; run pytest --update-goldens")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(actual)
        assert actual == path.read_bytes(), f"bytes differ from golden {path}"

    return check
