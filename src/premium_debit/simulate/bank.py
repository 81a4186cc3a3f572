"""A bank that answers request files with result files (SPEC §8 ``simulate-bank``), for demos,
tests and training.

For each request file ``<bank_code>_<batch_id>.req``: read it strictly in the format of the bank
its name names (a request with any problem is refused whole: it catches a writer that breaks
the layout) → draw one outcome per instruction from a named profile → map outcomes to the
bank's own result codes → optionally plant one defect → render ``<bank_code>_<batch_id>.ret``.
Every request is read and answered before the first result is written, so a refused request
leaves the output folder untouched.

Outcomes are reproducible from (seed, batch_id): a numpy Generator seeded with both draws a
whole batch at once, so the same request and seed give byte-identical results, whatever other
files are answered in the same call. A planted fault draws after the outcomes, so a faulty file
differs from the sound one only in its defect.

Faults (one defect per file, ``FAULTS``):

* row-level, sound files that reconciliation puts in review (SPEC §5): ``missing_row``,
  ``unexpected_row``, ``duplicate_row``, ``amount_mismatch``, ``account_mismatch``,
  ``partial_debit``, ``unknown_code``;
* file-level, files that reconciliation refuses whole: ``header_count``, ``trailer_total``,
  ``unknown_batch``, ``name_disagrees``, ``truncated``, ``undecodable``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from premium_debit.config import Config
from premium_debit.errors import ConfigError, InputRefused, OperationRefused
from premium_debit.formats.bankfile import (
    CRLF,
    EXTENSIONS,
    ParsedFile,
    ResultHeader,
    parse_request,
    render_result,
)
from premium_debit.formats.layout import FieldType
from premium_debit.logs import get_logger
from premium_debit.model.reasons import OUTCOME_CODES, OUTCOMES
from premium_debit.pipeline.profiles import BankProfile, bank_profiles
from premium_debit.simulate.names import FAULTS, PROFILE_NAMES, ROW_FAULTS
from premium_debit.workspace import read_bytes, write_atomic

_REQUEST_NAME = re.compile(r"^(?P<bank>[A-Z0-9]{4})_(?P<batch>[0-9A-Za-z]+)\.req$")
_BATCH_SEQ = re.compile(r"^(?P<stem>.+?)(?P<seq>[0-9]{2})$")
_FAULT_FEN = 100  # the amount faults are off by 1.00 yuan
_UNKNOWN_CODE_MESSAGE = "交易状态未知"
# Bytes that no ASCII-compatible multi-byte bank encoding (gb18030, gbk, utf-8) decodes.
_UNDECODABLE = (b"\xff\xff", b"\x80\x80")
_OUTCOME_ZH = {r.code: r.zh for r in OUTCOMES}  # the §4.3 texts (e.g. NAME_MISMATCH 户名不符)
_TRUNCATE_AT = 20  # bytes into the victim line: within its ASCII fields (type, seq, id)


@dataclass(frozen=True)
class Profile:
    """A mix of bank outcomes (SPEC §4.3): outcome → share of instructions, shares summing to 1."""

    name: str
    summary: str
    shares: tuple[tuple[str, float], ...]

    def __post_init__(self) -> None:
        unknown = [o for o, _ in self.shares if o not in OUTCOME_CODES]
        if unknown or any(s < 0 for _, s in self.shares):
            raise ValueError(f"profile {self.name}: bad outcomes or shares {self.shares}")
        if abs(sum(s for _, s in self.shares) - 1.0) > 1e-9:
            raise ValueError(f"profile {self.name}: the shares must add up to 1")


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "pilot",
            "a first run like the six-township pilot: 85% succeed, insufficient balance leads",
            (
                ("SUCCEEDED", 0.850),
                ("INSUFFICIENT_FUNDS", 0.070),
                ("ACCOUNT_NOT_ACTIVATED", 0.025),
                ("CARD_LOST", 0.020),
                ("ACCOUNT_FROZEN", 0.010),
                ("ACCOUNT_CLOSED", 0.008),
                ("ACCOUNT_NOT_FOUND", 0.006),
                ("NAME_MISMATCH", 0.005),
                ("LIMIT_EXCEEDED", 0.004),
                ("BANK_SYSTEM_ERROR", 0.002),
            ),
        ),
        Profile("all_success", "every instruction succeeds", (("SUCCEEDED", 1.0),)),
        Profile(
            "all_insufficient",
            "every instruction fails for insufficient balance (retry tests)",
            (("INSUFFICIENT_FUNDS", 1.0),),
        ),
        Profile(
            "recovering",
            "a retry run: 70% succeed now, most of the rest still short of money",
            (
                ("SUCCEEDED", 0.70),
                ("INSUFFICIENT_FUNDS", 0.22),
                ("LIMIT_EXCEEDED", 0.03),
                ("BANK_SYSTEM_ERROR", 0.02),
                ("ACCOUNT_FROZEN", 0.03),
            ),
        ),
    )
}
assert tuple(PROFILES) == PROFILE_NAMES  # the CLI offers exactly these names


def batch_rng(seed: int, batch_id: str) -> np.random.Generator:
    """The random stream of one batch: a function of the seed and the batch id only (a
    negative seed is taken modulo 2**64)."""
    digest = hashlib.sha256(batch_id.encode("utf-8")).digest()
    return np.random.default_rng([seed % 2**64, int.from_bytes(digest[:8], "big")])


def draw_outcomes(
    profile: Profile,
    n: int,
    rng: np.random.Generator,
    available: Collection[str] = OUTCOME_CODES,
) -> pl.Series:
    """``n`` outcomes drawn from ``profile`` at once. Only ``available`` outcomes (those the
    bank has a code for) are drawn, their shares scaled up to fill the whole."""
    pairs = [(o, s) for o, s in profile.shares if o in available and s > 0]
    if not pairs:
        raise ConfigError(
            f"profile {profile.name}: the bank has a result code for none of its outcomes"
            f" ({', '.join(o for o, _ in profile.shares)})"
        )
    outcomes = [o for o, _ in pairs]
    cumulative = np.cumsum([s for _, s in pairs])
    cumulative /= cumulative[-1]
    picks = np.searchsorted(cumulative, rng.random(n), side="right")
    picks = np.minimum(picks, len(outcomes) - 1)  # guards against a rounding edge at 1.0
    return pl.Series("outcome", outcomes, pl.String).gather(picks)


@dataclass(frozen=True)
class _Request:
    path: Path
    bank: BankProfile
    parsed: ParsedFile
    batch_id: str
    created: date | None


def simulate_bank(
    request_paths: Sequence[Path],
    out_dir: Path,
    cfg: Config,
    *,
    seed: int = 0,
    profile: str = "pilot",
    fault: str | None = None,
    processed: date | None = None,
) -> list[Path]:
    """Answer each request file with a result file in ``out_dir``; returns the written paths in
    the order of the requests. ``processed`` defaults to each request's created date + 1 day.
    A request with any problem is refused (``InputRefused``) before anything is written."""
    if profile not in PROFILES:
        raise OperationRefused(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    if fault is not None and fault not in FAULTS:
        raise OperationRefused(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
    banks = bank_profiles(cfg)
    requests = [_read_request(Path(p), banks) for p in request_paths]
    answers = [
        _answer(r, PROFILES[profile], seed=seed, fault=fault, processed=processed) for r in requests
    ]
    written: list[Path] = []
    log = get_logger()
    for request, (name, data, rows) in zip(requests, answers, strict=True):
        path = out_dir / name
        write_atomic(path, data)
        log.info(
            "bank_simulated",
            request=request.path.name,
            result=name,
            rows=rows,
            profile=profile,
            fault=fault,
            seed=seed,
        )
        written.append(path)
    return written


def _read_request(path: Path, banks: dict[str, BankProfile]) -> _Request:
    match = _REQUEST_NAME.match(path.name)
    if match is None:
        raise InputRefused(path, "not a request file name <bank_code>_<batch_id>.req")
    bank = banks.get(match["bank"])
    if bank is None:
        raise InputRefused(path, f"bank {match['bank']} is not configured")
    try:
        data = read_bytes(path)
    except FileNotFoundError:
        raise InputRefused(path, "file not found") from None
    except OSError as exc:
        raise InputRefused(path, f"cannot read: {exc.strerror}") from None
    parsed = parse_request(bank.layout, bank.encoding, data, path.name)
    if parsed.problems:
        first = parsed.problems[0]
        more = len(parsed.problems) - 1
        problem = first.message
        if more:
            problem += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise InputRefused(path, problem, line=first.line, field=first.field)
    created = parsed.header.get("created")
    return _Request(
        path=path,
        bank=bank,
        parsed=parsed,
        batch_id=str(parsed.header["batch_id"]),
        created=created if isinstance(created, date) else None,
    )


def _answer(
    request: _Request, profile: Profile, *, seed: int, fault: str | None, processed: date | None
) -> tuple[str, bytes, int]:
    """The result file's name, bytes and detail-line count."""
    bank, batch_id = request.bank, request.batch_id
    if processed is None:
        if request.created is None:
            raise OperationRefused(
                f"{request.path}: the request has no created date; give the processed date"
            )
        processed = request.created + timedelta(days=1)
    rng = batch_rng(seed, batch_id)
    rows = _result_rows(request, profile, rng, processed)
    victim = int(rng.integers(0, rows.height)) if rows.height else -1
    if fault in ROW_FAULTS:
        rows = _plant_row_fault(fault, rows, victim, bank)
    header_batch = name_batch = batch_id
    if fault == "unknown_batch":
        header_batch = name_batch = _other_batch(batch_id, _unknown_seq)
    elif fault == "name_disagrees":
        name_batch = _other_batch(batch_id, _next_seq)
    overrides: dict[str, object] = {}
    if fault == "header_count":
        _require_field(bank, "header", "count", fault)
        overrides["header.count"] = rows.height + 1
    elif fault == "trailer_total":
        _require_field(bank, "trailer", "total_fen", fault)
        overrides["trailer.total_fen"] = int(rows["amount_fen"].sum() or 0) + _FAULT_FEN
    marker = ""
    if fault == "undecodable":
        marker, rows = _mark_for_undecodable(rows, victim, bank)
    data = render_result(
        bank.layout,
        bank.encoding,
        ResultHeader(batch_id=header_batch, bank_code=bank.code, processed=processed),
        rows,
        bank.success_codes,
        overrides=overrides,
    )
    if fault == "undecodable":
        data = _make_undecodable(data, victim, marker, bank.encoding)
    elif fault == "truncated":
        data = _truncate(data, victim)
    return f"{bank.code}_{name_batch}{EXTENSIONS['result']}", data, rows.height


def _result_rows(
    request: _Request, profile: Profile, rng: np.random.Generator, processed: date
) -> pl.DataFrame:
    """One result row per instruction, in request order: the drawn outcome's code and message,
    debited = amount on success and 0 otherwise, a bank reference R<processed><tag><position>."""
    bank = request.bank
    details = request.parsed.details.sort("line")
    n = details.height
    code_of = _code_per_outcome(bank.codes)
    outcomes = draw_outcomes(profile, n, rng, available=code_of)
    batch_tag = int(rng.integers(0, 1_000_000))
    messages = {o: _message(_OUTCOME_ZH[o], o, bank.encoding) for o in code_of}
    outcome = pl.col("outcome")
    position = pl.int_range(1, n + 1, dtype=pl.Int64)
    return details.with_columns(outcomes, position.alias("_position")).select(
        pl.coalesce(pl.col("seq"), pl.col("_position")).alias("seq"),
        pl.col("instruction_id"),
        pl.col("account_no"),
        pl.col("amount_fen"),
        pl.when(outcome == "SUCCEEDED")
        .then(pl.col("amount_fen"))
        .otherwise(pl.lit(0, pl.Int64))
        .alias("debited_fen"),
        outcome.replace_strict(code_of, return_dtype=pl.String).alias("code"),
        outcome.replace_strict(messages, return_dtype=pl.String).alias("message"),
        pl.concat_str(
            pl.lit(_ref_prefix(processed, batch_tag)),
            pl.col("_position").cast(pl.String).str.pad_start(6, "0"),
        ).alias("bank_ref"),
    )


def _ref_prefix(processed: date, batch_tag: int) -> str:
    """Bank references are R, the processed date, a 6-digit tag of the batch drawn from the
    seed, then the row's position in the file (6 digits or more)."""
    return f"R{processed:%Y%m%d}{batch_tag:06d}"


def _code_per_outcome(codes: dict[str, str]) -> dict[str, str]:
    """Outcome → the bank's code for it; of several codes the first in sorted order."""
    out: dict[str, str] = {}
    for code in sorted(codes):
        out.setdefault(codes[code], code)
    return out


def _message(text: str, fallback: str, encoding: str) -> str:
    """The Chinese message, or the outcome's code name where the encoding cannot write it."""
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return fallback
    return text


# ---------------------------------------------------------------------------------------------
# Faults


def _plant_row_fault(
    fault: str, rows: pl.DataFrame, victim: int, bank: BankProfile
) -> pl.DataFrame:
    """Plant one row-level defect at row ``victim``; header and trailer figures are computed from
    the rows afterwards, so the file stays sound."""
    if victim < 0:
        raise OperationRefused(f"cannot plant {fault} in a batch without instructions")
    return _ROW_FAULT_PLANTERS[fault](rows, victim, bank)


def _at(victim: int, name: str, value: pl.Expr) -> pl.Expr:
    """Column ``name`` with ``value`` in row ``victim`` only."""
    at = pl.int_range(pl.len()) == victim
    return pl.when(at).then(value).otherwise(pl.col(name)).alias(name)


def _missing_row(rows: pl.DataFrame, victim: int, bank: BankProfile) -> pl.DataFrame:
    return rows.filter(pl.int_range(pl.len()) != victim)


def _duplicate_row(rows: pl.DataFrame, victim: int, bank: BankProfile) -> pl.DataFrame:
    """The same line twice, one after the other."""
    return pl.concat([rows.head(victim + 1), rows.slice(victim)])


def _unexpected_row(rows: pl.DataFrame, victim: int, bank: BankProfile) -> pl.DataFrame:
    """A successful row, last in the file, for an instruction id of this batch's form that the
    batch does not hold (the next sequence number); it debits the victim row's account and
    amount."""
    ids = rows["instruction_id"]
    stem = str(ids[0])[:-6]
    number = rows.height + 1
    taken = set(ids.to_list())
    while f"{stem}{number:06d}" in taken:  # never for the build's ids (seq 1..n)
        number += 1
    prefix = str(rows["bank_ref"][0])[: len(_ref_prefix(date.min, 0))]
    extra = rows.slice(victim, 1).with_columns(
        pl.lit(number, pl.Int64).alias("seq"),
        pl.lit(f"{stem}{number:06d}").alias("instruction_id"),
        pl.col("amount_fen").alias("debited_fen"),
        pl.lit(_success_code(bank)).alias("code"),
        pl.lit(_message(_OUTCOME_ZH["SUCCEEDED"], "SUCCEEDED", bank.encoding)).alias("message"),
        pl.lit(f"{prefix}{number:06d}").alias("bank_ref"),
    )
    return pl.concat([rows, extra])


def _amount_mismatch(rows: pl.DataFrame, victim: int, bank: BankProfile) -> pl.DataFrame:
    """The amount off by 1.00 yuan; a success still debits the row's (wrong) amount."""
    amount = pl.col("amount_fen") + _FAULT_FEN
    debited = pl.when(pl.col("debited_fen") > 0).then(amount).otherwise(pl.lit(0, pl.Int64))
    return rows.with_columns(_at(victim, "amount_fen", amount), _at(victim, "debited_fen", debited))


def _account_mismatch(rows: pl.DataFrame, victim: int, bank: BankProfile) -> pl.DataFrame:
    other = _other_account(str(rows["account_no"][victim]))
    return rows.with_columns(_at(victim, "account_no", pl.lit(other)))


def _partial_debit(rows: pl.DataFrame, victim: int, bank: BankProfile) -> pl.DataFrame:
    """A success that debited half the amount (rounded down)."""
    message = _message(_OUTCOME_ZH["SUCCEEDED"], "SUCCEEDED", bank.encoding)
    return rows.with_columns(
        _at(victim, "code", pl.lit(_success_code(bank))),
        _at(victim, "message", pl.lit(message)),
        _at(victim, "debited_fen", pl.col("amount_fen") // 2),
    )


def _unknown_code(rows: pl.DataFrame, victim: int, bank: BankProfile) -> pl.DataFrame:
    """A code the map lacks, nothing debited: the row is wrong in its code only."""
    message = _message(_UNKNOWN_CODE_MESSAGE, "UNKNOWN", bank.encoding)
    return rows.with_columns(
        _at(victim, "code", pl.lit(_unmapped_code(bank))),
        _at(victim, "message", pl.lit(message)),
        _at(victim, "debited_fen", pl.lit(0, pl.Int64)),
    )


_ROW_FAULT_PLANTERS: dict[str, Callable[[pl.DataFrame, int, BankProfile], pl.DataFrame]] = {
    "missing_row": _missing_row,
    "unexpected_row": _unexpected_row,
    "duplicate_row": _duplicate_row,
    "amount_mismatch": _amount_mismatch,
    "account_mismatch": _account_mismatch,
    "partial_debit": _partial_debit,
    "unknown_code": _unknown_code,
}
assert tuple(_ROW_FAULT_PLANTERS) == ROW_FAULTS


def _success_code(bank: BankProfile) -> str:
    if not bank.success_codes:
        raise ConfigError(f"bank {bank.code}: no result code means success")
    return min(bank.success_codes)


def _other_account(account: str) -> str:
    """Another account of the same length: the digit before the check digit moved by one and
    the Luhn check digit recomputed, so the number still looks valid."""
    if len(account) < 2 or not account.isdigit():
        return account + "0"
    body = account[:-2] + str((int(account[-2]) + 1) % 10)
    total = 0
    for i, ch in enumerate(reversed(body)):  # the digits of one account, not rows
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def _unmapped_code(bank: BankProfile) -> str:
    """A code of the bank's code width that its map lacks, counting down from all nines."""
    width = next(
        (f.width for f in bank.layout.result.detail if f.name == "code" and f.width),
        max(len(c) for c in bank.codes),
    )
    for number in range(10**width - 1, -1, -1):  # at most len(codes) + 1 steps
        code = f"{number:0{width}d}"
        if code not in bank.codes:
            return code
    raise ConfigError(f"bank {bank.code}: every {width}-digit code is mapped")


def _other_batch(batch_id: str, new_seq: Callable[[int], int]) -> str:
    """The batch id with its 2-digit sequence replaced."""
    match = _BATCH_SEQ.match(batch_id)
    if match is None:
        raise OperationRefused(f"batch {batch_id}: no 2-digit sequence to change")
    return f"{match['stem']}{new_seq(int(match['seq'])):02d}"


def _unknown_seq(seq: int) -> int:
    """100 − s: the day's first batch becomes 99, and distinct batches stay distinct."""
    return 100 - seq if seq != 50 else 99


def _next_seq(seq: int) -> int:
    return seq + 1 if seq < 99 else seq - 1


def _require_field(bank: BankProfile, record: str, name: str, fault: str) -> None:
    fields = bank.layout.result.header if record == "header" else bank.layout.result.trailer
    if not any(f.name == name for f in fields):
        raise OperationRefused(
            f"cannot plant {fault}: the {bank.layout.name} result {record} has no {name}"
        )


def _mark_for_undecodable(
    rows: pl.DataFrame, victim: int, bank: BankProfile
) -> tuple[str, pl.DataFrame]:
    """Write a 2-character ASCII marker into the victim row's message (or bank_ref), to be
    replaced by undecodable bytes of the same length after rendering."""
    if victim < 0:
        raise OperationRefused("cannot plant undecodable in a batch without instructions")
    text_fields = [f.name for f in bank.layout.result.detail if f.type is FieldType.TEXT]
    target = next((n for n in ("message", "bank_ref") if n in text_fields), None)
    if target is None:
        raise OperationRefused("cannot plant undecodable: the result rows have no free text")
    marker = "^^" if bank.layout.delimiter == "~" else "~~"
    at = pl.int_range(pl.len()) == victim
    return marker, rows.with_columns(
        pl.when(at).then(pl.lit(marker)).otherwise(pl.col(target)).alias(target)
    )


def _make_undecodable(data: bytes, victim: int, marker: str, encoding: str) -> bytes:
    """Replace the marker in the victim's line (the line after the header) by two bytes the
    encoding cannot decode; a fixed record keeps its length."""
    bad = next((b for b in _UNDECODABLE if not _decodes(b, encoding)), None)
    if bad is None:
        raise OperationRefused(f"cannot plant undecodable: {encoding} decodes every byte tried")
    crlf = CRLF.encode("ascii")
    lines = data.split(crlf)
    lines[1 + victim] = lines[1 + victim].replace(marker.encode("ascii"), bad, 1)
    return crlf.join(lines)


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _truncate(data: bytes, victim: int) -> bytes:
    """Cut the file inside the victim's detail line (the trailer's when there is none), a few
    bytes in, where every layout still writes ASCII: no trailer, no final line end."""
    crlf = CRLF.encode("ascii")
    lines = data.split(crlf)
    index = 1 + max(victim, 0)
    line = lines[index]
    return crlf.join([*lines[:index], line[: min(_TRUNCATE_AT, max(1, len(line) // 2))]])
