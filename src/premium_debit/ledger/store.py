"""The ledger: the only code that writes durable state.

A narrow interface over SQLite — frames in, frames out — so that a PostgreSQL ledger can take its
place for shared deployments. Every command writes inside one ``Ledger.write()`` transaction
(``BEGIN IMMEDIATE``: one writer at a time); a crash at any instant leaves the previous commit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from premium_debit.errors import InternalError, TransientError
from premium_debit.logs import get_logger

SCHEMA_VERSION = 1

RESIDENT_COLUMNS = (
    "person_id",
    "period",
    "township",
    "village",
    "name",
    "category",
    "amount_due_fen",
    "state",
    "attempts",
    "last_reason",
    "state_since",
)
TRANSITION_COLUMNS = (
    "person_id",
    "period",
    "state",
    "reason",
    "run_id",
    "file_sha256",
    "source_line",
    "instruction_id",
    "at",
)
INSTRUCTION_COLUMNS = (
    "instruction_id",
    "batch_id",
    "seq",
    "person_id",
    "period",
    "township",
    "attempt",
    "account_no",
    "name",
    "amount_fen",
)
RESULT_COLUMNS = (
    "file_sha256",
    "line",
    "batch_id",
    "instruction_id",
    "account_no",
    "amount_fen",
    "debited_fen",
    "code",
    "message",
    "bank_ref",
    "class",
)
PAYMENT_COLUMNS = (
    "person_id",
    "period",
    "amount_fen",
    "channel",
    "paid_at",
    "file_sha256",
    "source_line",
    "run_id",
)
REFUND_COLUMNS = ("person_id", "period", "instruction_id", "amount_fen", "cause", "run_id", "at")
BATCH_COLUMNS = (
    "batch_id",
    "bank_code",
    "period",
    "business_date",
    "seq",
    "kind",
    "run_id",
    "count",
    "total_fen",
    "file_name",
    "file_sha256",
    "encoding",
    "layout",
    "policy",
)

_INSTRUCTION_SCHEMA = {
    "instruction_id": pl.String,
    "batch_id": pl.String,
    "seq": pl.Int64,
    "person_id": pl.String,
    "period": pl.Int64,
    "township": pl.String,
    "attempt": pl.Int64,
    "account_no": pl.String,
    "name": pl.String,
    "amount_fen": pl.Int64,
    "status": pl.String,
    "outcome": pl.String,
    "debited_fen": pl.Int64,
    "result_sha256": pl.String,
    "result_line": pl.Int64,
}
_RESIDENT_SCHEMA = {
    "person_id": pl.String,
    "period": pl.Int64,
    "township": pl.String,
    "village": pl.String,
    "name": pl.String,
    "category": pl.String,
    "amount_due_fen": pl.Int64,
    "state": pl.String,
    "attempts": pl.Int64,
    "last_reason": pl.String,
    "state_since": pl.String,
}
BATCH_SCHEMA = {
    "batch_id": pl.String,
    "bank_code": pl.String,
    "period": pl.Int64,
    "business_date": pl.String,
    "seq": pl.Int64,
    "kind": pl.String,
    "run_id": pl.String,
    "count": pl.Int64,
    "total_fen": pl.Int64,
    "file_name": pl.String,
    "file_sha256": pl.String,
    "encoding": pl.String,
    "layout": pl.String,
    "policy": pl.String,
}


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    msg = str(exc).lower()
    return "locked" in msg or "busy" in msg


class Ledger:
    """One SQLite ledger file. Reads may happen any time; writes only inside ``write()``."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000, begin_attempts: int = 5) -> None:
        self.path = path
        self.begin_attempts = begin_attempts
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        self._db.execute("PRAGMA foreign_keys = ON")
        try:
            self._db.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise TransientError(f"{path}: ledger is busy") from None
            raise
        # Durability at commit: a committed command survives power loss.
        self._db.execute("PRAGMA synchronous = FULL")
        # 64 MB of page cache: index inserts in random key order (person_id of a million new
        # instructions) thrash the 2 MB default; measured 17.6 s → 10.8 s at 1M rows.
        self._db.execute("PRAGMA cache_size = -65536")
        self._in_write = False
        self._migrate()

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        has_meta = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if has_meta:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise InternalError(
                    f"{self.path}: ledger schema version {version} is newer than this program "
                    f"({SCHEMA_VERSION}); upgrade premium-debit"
                )
            return
        script = resources.files("premium_debit.ledger").joinpath("schema.sql").read_text("utf-8")
        with self._transaction():
            for statement in _split_sql(script):
                self._db.execute(statement)
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

    def _begin(self) -> None:
        """BEGIN IMMEDIATE, retried with backoff while another writer holds the ledger."""
        for attempt in Retrying(
            retry=retry_if_exception(
                lambda e: isinstance(e, sqlite3.OperationalError) and _is_busy(e)
            ),
            stop=stop_after_attempt(self.begin_attempts),
            wait=wait_exponential(multiplier=0.2, max=5),
            before_sleep=lambda st: get_logger().warning(
                "ledger_busy", attempt=st.attempt_number, path=str(self.path)
            ),
            reraise=True,
        ):
            with attempt:
                self._db.execute("BEGIN IMMEDIATE")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            self._begin()
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise TransientError(
                    f"{self.path}: ledger is busy (another writer); gave up after "
                    f"{self.begin_attempts} attempts"
                ) from None
            raise
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            try:
                self._db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self._db.execute("ROLLBACK")
                if _is_busy(exc):
                    raise TransientError(f"{self.path}: ledger is busy at commit") from None
                raise

    @contextmanager
    def write(self) -> Iterator[LedgerWriter]:
        """The one transaction of a command: everything in it commits together or not at all."""
        if self._in_write:
            raise InternalError("nested ledger write")
        self._in_write = True
        try:
            with self._transaction():
                yield LedgerWriter(self._db)
        finally:
            self._in_write = False

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one consistent state of the ledger (one WAL read transaction),
        even while another process commits: for lock-free readers such as report and export."""
        if self._in_write:
            yield
            return
        self._db.execute("BEGIN")  # deferred: the snapshot is taken at the first read
        try:
            yield
        finally:
            self._db.execute("COMMIT")

    # -- reads -------------------------------------------------------------------------------

    def _frame(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any], schema: Mapping[str, Any]
    ) -> pl.DataFrame:
        rows = self._db.execute(sql, params).fetchall()
        return pl.DataFrame(rows, schema=dict(schema), orient="row")

    def residents(self, period: int | None = None) -> pl.DataFrame:
        """Current state of every resident (of ``period`` when given), sorted by person_id."""
        cols = ", ".join(RESIDENT_COLUMNS)
        where, params = ("WHERE period = ?", [period]) if period is not None else ("", [])
        return self._frame(
            f"SELECT {cols} FROM residents {where} ORDER BY person_id, period",
            params,
            _RESIDENT_SCHEMA,
        )

    def residents_of_batch(self, batch_id: str) -> pl.DataFrame:
        """Current state of the residents a batch instructs (a key-range join, not a scan)."""
        cols = ", ".join(f"r.{c}" for c in RESIDENT_COLUMNS)
        return self._frame(
            f"SELECT {cols} FROM instructions i JOIN residents r "
            "ON r.person_id = i.person_id AND r.period = i.period "
            "WHERE i.instruction_id BETWEEN ? AND ? ORDER BY r.person_id",
            [batch_id + "000000", batch_id + "999999"],
            _RESIDENT_SCHEMA,
        )

    def collected_of_batch(self, batch_id: str) -> pl.DataFrame:
        """person_id of the batch's residents who already have a recorded success."""
        return self._frame(
            "SELECT DISTINCT s.person_id FROM instructions i JOIN instructions s "
            "ON s.person_id = i.person_id AND s.period = i.period AND s.status = 'SUCCEEDED' "
            "WHERE i.instruction_id BETWEEN ? AND ?",
            [batch_id + "000000", batch_id + "999999"],
            {"person_id": pl.String},
        )

    def paid_persons(self, period: int) -> pl.DataFrame:
        """person_id of everyone on an accepted paid-elsewhere list for ``period``."""
        return self._frame(
            "SELECT DISTINCT person_id FROM payments WHERE period = ?",
            [period],
            {"person_id": pl.String},
        )

    def file(self, sha256: str) -> dict[str, Any] | None:
        cur = self._db.execute("SELECT * FROM files WHERE sha256 = ?", (sha256,))
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    def result_file_for_batch(self, batch_id: str) -> dict[str, Any] | None:
        cur = self._db.execute(
            "SELECT * FROM files WHERE kind = 'result' AND batch_id = ?", (batch_id,)
        )
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    def latest_file(self, kind: str) -> dict[str, Any] | None:
        cur = self._db.execute(
            "SELECT * FROM files WHERE kind = ? ORDER BY received_at DESC, rowid DESC LIMIT 1",
            (kind,),
        )
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    def batches(self, period: int | None = None) -> pl.DataFrame:
        cols = ", ".join(BATCH_COLUMNS)
        where, params = ("WHERE period = ?", [period]) if period is not None else ("", [])
        return self._frame(
            f"SELECT {cols} FROM batches {where} ORDER BY batch_id", params, BATCH_SCHEMA
        )

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        df = self._frame(
            f"SELECT {', '.join(BATCH_COLUMNS)} FROM batches WHERE batch_id = ?",
            [batch_id],
            BATCH_SCHEMA,
        )
        return df.row(0, named=True) if df.height else None

    def next_batch_seq(self, bank_code: str, business_date: str) -> int:
        row = self._db.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM batches WHERE bank_code = ? AND business_date = ?",
            (bank_code, business_date),
        ).fetchone()
        return int(row[0]) + 1

    def instructions(
        self,
        *,
        batch_id: str | None = None,
        period: int | None = None,
        status: str | None = None,
    ) -> pl.DataFrame:
        """Instructions, filtered, in (batch_id, seq) order."""
        clauses: list[str] = []
        params: list[Any] = []
        if batch_id is not None:
            # A key range: instruction_id is batch_id followed by a 6-digit sequence.
            clauses.append("instruction_id BETWEEN ? AND ?")
            params += [batch_id + "000000", batch_id + "999999"]
        for col, val in (("period", period), ("status", status)):
            if val is not None:
                clauses.append(f"{col} = ?")
                params.append(val)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return self._frame(
            f"SELECT {', '.join(_INSTRUCTION_SCHEMA)} FROM instructions {where} "
            "ORDER BY batch_id, seq",
            params,
            _INSTRUCTION_SCHEMA,
        )

    def instruction_tally(self, period: int | None = None) -> pl.DataFrame:
        """Instructions counted by bank, township and status: count and fen."""
        where, params = ("WHERE i.period = ?", [period]) if period is not None else ("", [])
        return self._frame(
            "SELECT b.bank_code, i.township, i.status, COUNT(*), SUM(i.amount_fen) "
            f"FROM instructions i JOIN batches b ON b.batch_id = i.batch_id {where} "
            "GROUP BY b.bank_code, i.township, i.status ORDER BY 1, 2, 3",
            params,
            {
                "bank_code": pl.String,
                "township": pl.String,
                "status": pl.String,
                "count": pl.Int64,
                "amount_fen": pl.Int64,
            },
        )

    def instruction(self, instruction_id: str) -> dict[str, Any] | None:
        df = self._frame(
            f"SELECT {', '.join(_INSTRUCTION_SCHEMA)} FROM instructions WHERE instruction_id = ?",
            [instruction_id],
            _INSTRUCTION_SCHEMA,
        )
        return df.row(0, named=True) if df.height else None

    def payments(self, period: int | None = None) -> pl.DataFrame:
        where, params = ("WHERE period = ?", [period]) if period is not None else ("", [])
        return self._frame(
            f"SELECT {', '.join(PAYMENT_COLUMNS)} FROM payments {where} "
            "ORDER BY person_id, paid_at",
            params,
            {
                "person_id": pl.String,
                "period": pl.Int64,
                "amount_fen": pl.Int64,
                "channel": pl.String,
                "paid_at": pl.String,
                "file_sha256": pl.String,
                "source_line": pl.Int64,
                "run_id": pl.String,
            },
        )

    def refunds(self, period: int | None = None) -> pl.DataFrame:
        where, params = ("WHERE period = ?", [period]) if period is not None else ("", [])
        return self._frame(
            f"SELECT {', '.join(REFUND_COLUMNS)} FROM refunds {where} ORDER BY person_id",
            params,
            {
                "person_id": pl.String,
                "period": pl.Int64,
                "instruction_id": pl.String,
                "amount_fen": pl.Int64,
                "cause": pl.String,
                "run_id": pl.String,
                "at": pl.String,
            },
        )

    def transitions(self, period: int | None = None) -> pl.DataFrame:
        where, params = ("WHERE period = ?", [period]) if period is not None else ("", [])
        return self._frame(
            f"SELECT {', '.join(TRANSITION_COLUMNS)} FROM transitions {where} ORDER BY rowid",
            params,
            {
                "person_id": pl.String,
                "period": pl.Int64,
                "state": pl.String,
                "reason": pl.String,
                "run_id": pl.String,
                "file_sha256": pl.String,
                "source_line": pl.Int64,
                "instruction_id": pl.String,
                "at": pl.String,
            },
        )

    def periods(self) -> list[int]:
        rows = self._db.execute("SELECT DISTINCT period FROM residents ORDER BY period").fetchall()
        return [int(r[0]) for r in rows]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query (consistency checks)."""
        return list(self._db.execute(sql, params).fetchall())

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """One value of a read-only query (for tests and consistency checks)."""
        row = self._db.execute(sql, params).fetchone()
        return None if row is None else row[0]


class LedgerWriter:
    """The write half, alive only inside ``Ledger.write()``."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def _insert(
        self, table: str, columns: Sequence[str], frame: pl.DataFrame, *, verb: str = "INSERT"
    ) -> None:
        if frame.height == 0:
            return
        marks = ", ".join("?" for _ in columns)
        sql = f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        self._db.executemany(sql, frame.select(columns).iter_rows())

    def add_run(self, run_id: str, command: str, as_of: str, started_at: str) -> None:
        """Record the run (once: a run that writes several transactions records it in the first)."""
        self._db.execute(
            "INSERT OR IGNORE INTO runs (run_id, command, as_of, started_at) VALUES (?, ?, ?, ?)",
            (run_id, command, as_of, started_at),
        )

    def add_file(
        self,
        sha256: str,
        name: str,
        kind: str,
        run_id: str,
        received_at: str,
        *,
        batch_id: str | None = None,
        archived_as: str | None = None,
    ) -> None:
        """Record an accepted input; the same bytes seen again are left as first recorded."""
        self._db.execute(
            "INSERT OR IGNORE INTO files (sha256, name, kind, run_id, received_at, batch_id,"
            " archived_as) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (sha256, name, kind, run_id, received_at, batch_id, archived_as),
        )

    def upsert_residents(self, frame: pl.DataFrame) -> None:
        """Insert residents or replace their row (the caller decides who may change)."""
        cols = RESIDENT_COLUMNS
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in ("person_id", "period"))
        marks = ", ".join("?" for _ in cols)
        if frame.height == 0:
            return
        # Key order turns random B-tree inserts into appends (about 20% faster at 1M rows).
        self._db.executemany(
            f"INSERT INTO residents ({', '.join(cols)}) VALUES ({marks}) "
            f"ON CONFLICT (person_id, period) DO UPDATE SET {updates}",
            frame.select(cols).sort("person_id", "period").iter_rows(),
        )

    def set_resident_states(self, frame: pl.DataFrame) -> None:
        """Update state, attempts, last_reason and state_since of existing residents."""
        if frame.height == 0:
            return
        self._db.executemany(
            "UPDATE residents SET state = ?, attempts = ?, last_reason = ?, state_since = ? "
            "WHERE person_id = ? AND period = ?",
            frame.select("state", "attempts", "last_reason", "state_since", "person_id", "period")
            .sort("person_id", "period")
            .iter_rows(),
        )

    def change_states(
        self, frame: pl.DataFrame, *, run_id: str, at: str, business_date: str
    ) -> None:
        """Residents' new states and, with each, its history row (SPEC §6.6): the one way a
        command other than build changes a resident's state.

        ``frame``: person_id, period, state, attempts, last_reason, and where known the cause:
        file_sha256, source_line, instruction_id. The history row's reason is last_reason.
        """
        if frame.height == 0:
            return
        causes = {"file_sha256": pl.String, "source_line": pl.Int64, "instruction_id": pl.String}
        full = frame.with_columns(
            [pl.lit(None, dtype).alias(c) for c, dtype in causes.items() if c not in frame.columns]
        ).with_columns(pl.col("last_reason").cast(pl.String))
        self.set_resident_states(full.with_columns(state_since=pl.lit(business_date)))
        self.add_transitions(
            full.select(
                "person_id",
                "period",
                "state",
                "file_sha256",
                "source_line",
                "instruction_id",
                reason="last_reason",
                run_id=pl.lit(run_id),
                at=pl.lit(at),
            )
        )

    def add_transitions(self, frame: pl.DataFrame) -> None:
        self._insert("transitions", TRANSITION_COLUMNS, frame)

    def add_batches(self, frame: pl.DataFrame) -> None:
        self._insert("batches", BATCH_COLUMNS, frame)

    def add_instructions(self, frame: pl.DataFrame) -> None:
        self._insert("instructions", INSTRUCTION_COLUMNS, frame)

    def settle_instructions(self, frame: pl.DataFrame) -> None:
        """Give instructions their outcome: columns instruction_id, status, outcome, debited_fen,
        result_sha256, result_line."""
        if frame.height == 0:
            return
        self._db.executemany(
            "UPDATE instructions SET status = ?, outcome = ?, debited_fen = ?, result_sha256 = ?,"
            " result_line = ? WHERE instruction_id = ?",
            frame.select(
                "status",
                "outcome",
                "debited_fen",
                "result_sha256",
                "result_line",
                "instruction_id",
            )
            .sort("instruction_id")
            .iter_rows(),
        )

    def add_results(self, frame: pl.DataFrame) -> None:
        self._insert("results", RESULT_COLUMNS, frame)

    def add_payments(self, frame: pl.DataFrame) -> None:
        self._insert("payments", PAYMENT_COLUMNS, frame, verb="INSERT OR IGNORE")

    def add_refunds(self, frame: pl.DataFrame) -> None:
        self._insert("refunds", REFUND_COLUMNS, frame, verb="INSERT OR IGNORE")

    def add_resolution(
        self, instruction_id: str, decision: str, operator: str, note: str, run_id: str, at: str
    ) -> None:
        self._db.execute(
            "INSERT INTO resolutions (instruction_id, decision, operator, note, run_id, at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (instruction_id, decision, operator, note, run_id, at),
        )


def _split_sql(script: str) -> list[str]:
    """Split the schema into statements; trigger bodies contain ';' so split on 'END;' too."""
    statements: list[str] = []
    buf: list[str] = []
    in_trigger = False
    for line in script.splitlines():
        stripped = line.strip()
        if stripped.startswith("--") or not stripped:
            continue
        buf.append(line)
        if stripped.upper().startswith("CREATE TRIGGER"):
            in_trigger = True
        ends = stripped.upper().endswith("END;") if in_trigger else stripped.endswith(";")
        if ends:
            statements.append("\n".join(buf))
            buf = []
            in_trigger = False
    return statements
