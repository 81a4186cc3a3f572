"""The tabular inputs of SPEC §2 — due lists, registry snapshots, paid-elsewhere lists — as frames.

Bytes in, one ``pl.String`` column per expected column out, plus ``source_line``; no business
rule is applied here (validation is the next step). What this module settles is *reading*:

* the file kind is told by content: a ZIP (``PK\\x03\\x04``) is an XLSX workbook, anything else
  is CSV text;
* CSV encoding (SPEC §2): a UTF-8 BOM means UTF-8; valid UTF-8 is UTF-8; anything else must be
  GB18030, decoded strictly — valid UTF-8 is tried first because UTF-8 Chinese also "decodes"
  as GBK, into garbage;
* headers are matched to the canonical English or the Chinese name, in any order; extra
  columns are ignored;
* white space around values (Python's ``str.strip()`` set, U+3000 included) is removed, empty
  cells become null, and rows with nothing in them are dropped while the others keep their row
  number;
* an XLSX cell stored as a number in an ID column means its digits may already be lost (Excel
  keeps 15 significant digits; an ID card number has 18): the file is refused. In an amount
  column a number is fine when it is a whole number of fen.

Anything that makes the whole file unusable raises :class:`InputRefused`; bad values inside a
readable file are left for validation to report row by row.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl

from premium_debit.errors import InputRefused
from premium_debit.model.money import yuan_expr


@dataclass(frozen=True)
class Column:
    """One expected column of a tabular input (SPEC §2)."""

    name: str  # canonical English header, e.g. "person_id"
    zh: str  # Chinese header, e.g. "公民身份号码"
    required: bool = True
    # XLSX: a numeric cell here refuses the whole file (IDs, card and account numbers: the
    # digits are already lost when Excel stored them as a float).
    text_only: bool = False
    # XLSX: a numeric cell here is accepted when it is a whole number of fen.
    amount: bool = False


# SPEC §2.1
DUE_COLUMNS: tuple[Column, ...] = (
    Column("person_id", "公民身份号码", text_only=True),
    Column("name", "姓名"),
    Column("township", "镇街"),
    Column("village", "村社区", required=False),
    Column("category", "参保类别"),
    Column("period", "缴费年度"),
    Column("amount_due", "应缴金额", amount=True),
)

# SPEC §2.2
REGISTRY_COLUMNS: tuple[Column, ...] = (
    Column("person_id", "公民身份号码", text_only=True),
    Column("name", "姓名"),
    Column("card_no", "社会保障卡号", text_only=True),
    Column("bank_code", "开户银行代码"),
    Column("account_no", "金融账号", text_only=True),
    Column("account_status", "金融账户状态"),
    Column("card_status", "卡状态"),
    Column("authorized", "代扣授权"),
)

# SPEC §2.3
PAID_COLUMNS: tuple[Column, ...] = (
    Column("person_id", "公民身份号码", text_only=True),
    Column("period", "缴费年度"),
    Column("amount", "缴费金额", amount=True),
    Column("channel", "缴费渠道"),
    Column("paid_at", "缴费日期"),
)

TableKind = Literal["due", "registry", "paid"]

_KIND_COLUMNS: dict[TableKind, tuple[Column, ...]] = {
    "due": DUE_COLUMNS,
    "registry": REGISTRY_COLUMNS,
    "paid": PAID_COLUMNS,
}

# Columns only one kind has: they tell a kind whose header is incomplete (and so will be
# refused with a precise message by read_table) from an unrelated file.
_KIND_MARKERS: dict[TableKind, frozenset[str]] = {
    "due": frozenset({"amount_due"}),
    "registry": frozenset(
        {"card_no", "bank_code", "account_no", "account_status", "card_status", "authorized"}
    ),
    "paid": frozenset({"amount", "channel", "paid_at"}),
}

# Exactly the characters for which Python's str.isspace() is true (so strip_chars matches
# str.strip()); tests check this against every code point.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and other OLE documents)
_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_CHUNK = 1 << 24  # 16 MiB: strict decoding in chunks keeps peak memory near the file's size
_SNIFF_LIMIT = 1 << 20  # a header line longer than 1 MiB is not a header

_SOURCE_LINE = "source_line"
_ROW = "__row__"
# How fastexcel writes a date cell as text; the reader keeps its date part.
_CELL_DATETIME = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}) [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?$"
# Above this many fen a float no longer holds every whole number of fen exactly.
_MAX_EXACT_FEN = float(2**53)


def read_table(path: Path, columns: Sequence[Column], *, data: bytes | None = None) -> pl.DataFrame:
    """Read a CSV or XLSX input into one String column per ``columns`` entry plus source_line.

    ``source_line`` is the row number in the file, the header being row 1; rows are in file
    order; rows with no value at all are dropped. ``data`` is the file's bytes when the caller
    has already read them (the path is then only used in messages).
    """
    raw = _load_bytes(path, data)
    if raw.startswith(_ZIP_MAGIC):
        return _read_xlsx(path, raw, columns)
    return _read_csv(path, raw, columns)


def sniff_table_kind(path: Path, *, data: bytes | None = None) -> TableKind | None:
    """Tell a due list, a registry snapshot and a paid-elsewhere list apart by their header.

    A kind whose required columns are all present wins; failing that, the kind whose own
    columns (amount_due; account and card columns; channel, paid_at, amount) appear. None when
    no kind or more than one fits, or the file is unreadable; never raises for bad content.
    """
    try:
        raw = _load_bytes(path, data)
        cells = _xlsx_header(path, raw) if raw.startswith(_ZIP_MAGIC) else _csv_header(path, raw)
    except InputRefused:
        return None
    present: set[str] = set()
    for cell in cells:
        for kind_columns in _KIND_COLUMNS.values():
            found = _match_header(cell, kind_columns)
            if found is not None:
                present.add(found.name)
    complete = [
        kind
        for kind, kind_columns in _KIND_COLUMNS.items()
        if all(c.name in present for c in kind_columns if c.required)
    ]
    if len(complete) == 1:
        return complete[0]
    if complete:
        return None
    marked = [kind for kind, markers in _KIND_MARKERS.items() if markers & present]
    return marked[0] if len(marked) == 1 else None


# --- bytes ---------------------------------------------------------------------------------


def _load_bytes(path: Path, data: bytes | None) -> bytes:
    if data is not None:
        return data
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputRefused(path, f"cannot read file: {exc.strerror or exc}") from exc


def _decode_error(path: Path, raw: bytes, encoding: str, start: int) -> InputRefused:
    """The refusal for bytes that are not text in ``encoding``, naming where they go wrong."""
    try:
        raw[start:].decode(encoding)
    except UnicodeDecodeError as exc:
        offset = start + exc.start
    else:  # pragma: no cover - callers only come here after a failed decode
        offset = start
    bad = raw[offset : offset + 4].hex(" ")
    line = raw.count(b"\n", 0, offset) + 1
    if encoding == "utf-8":
        what = "starts with a UTF-8 BOM but is not valid UTF-8"
    else:
        what = "is neither UTF-8 nor GB18030"
    hint = (
        " (UTF-16 text is not supported; save as UTF-8 or GB18030)"
        if raw.startswith(_UTF16_BOMS)
        else ""
    )
    return InputRefused(
        path,
        f"undecodable: the file {what}: bytes {bad} at byte offset {offset}, line {line}{hint}",
    )


def _is_utf8(raw: bytes, start: int) -> bool:
    """Whether raw[start:] is valid UTF-8, checked in chunks without building the text."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    view = memoryview(raw)
    try:
        for pos in range(start, len(raw), _CHUNK):
            decoder.decode(view[pos : pos + _CHUNK], final=False)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _gb18030_to_utf8(path: Path, raw: bytes) -> bytes:
    """Strictly transcode GB18030 to UTF-8, chunk by chunk (never a lossy decode)."""
    decoder = codecs.getincrementaldecoder("gb18030")("strict")
    view = memoryview(raw)
    parts: list[bytes] = []
    try:
        for pos in range(0, len(raw), _CHUNK):
            parts.append(decoder.decode(view[pos : pos + _CHUNK], final=False).encode("utf-8"))
        parts.append(decoder.decode(b"", final=True).encode("utf-8"))
    except UnicodeDecodeError:
        raise _decode_error(path, raw, "gb18030", 0) from None
    return b"".join(parts)


def _to_utf8(path: Path, raw: bytes) -> bytes:
    """SPEC §2: UTF-8 BOM → UTF-8; valid UTF-8 → UTF-8; otherwise strict GB18030."""
    if raw.startswith(_UTF8_BOM):
        if not _is_utf8(raw, len(_UTF8_BOM)):
            raise _decode_error(path, raw, "utf-8", len(_UTF8_BOM))
        return raw[len(_UTF8_BOM) :]
    if _is_utf8(raw, 0):
        return raw
    return _gb18030_to_utf8(path, raw)


def _refuse_binary(path: Path, raw: bytes) -> None:
    """Refuse content that is plainly not CSV text before trying to decode it."""
    if raw.startswith(_OLE_MAGIC):
        raise InputRefused(path, "not a table: a legacy .xls workbook; save it as .xlsx or CSV")
    nul = raw.find(b"\x00")
    if nul >= 0 and not raw.startswith(_UTF16_BOMS):
        raise InputRefused(path, f"not a table: binary content (a NUL byte at byte offset {nul})")


# --- CSV -----------------------------------------------------------------------------------


def _parse_csv(path: Path, text: bytes, *, n_rows: int | None = None) -> pl.DataFrame:
    """Standard CSV (comma, double quotes) into String columns, the header as row 0."""
    try:
        return pl.read_csv(
            text,
            has_header=False,
            infer_schema=False,
            separator=",",
            quote_char='"',
            comment_prefix=None,
            null_values=None,
            truncate_ragged_lines=False,
            raise_if_empty=True,
            n_rows=n_rows,
        )
    except pl.exceptions.NoDataError:
        raise InputRefused(path, "empty file: no header row") from None
    except pl.exceptions.PolarsError as exc:
        # Polars' messages quote file content (personal data) over several lines: say what
        # is wrong in our words instead.
        message = str(exc)
        if "more fields" in message:
            problem = "a row has more fields than the header row"
        elif "could not parse" in message or "malformed" in message:
            problem = "cannot parse it as CSV (a stray or unclosed double quote?)"
        else:
            problem = f"cannot parse it as CSV ({type(exc).__name__})"
        raise InputRefused(path, f"not a table: {problem}") from None


def _read_csv(path: Path, raw: bytes, columns: Sequence[Column]) -> pl.DataFrame:
    _refuse_binary(path, raw)
    text = _to_utf8(path, raw)
    frame = _parse_csv(path, text)
    header = [cell if isinstance(cell, str) else "" for cell in frame.row(0)]
    mapping = _map_header(path, header, columns)
    return _finish(frame, mapping, columns)


def _csv_header(path: Path, raw: bytes) -> list[str]:
    """The header cells of a CSV, decoding only its first line."""
    _refuse_binary(path, raw[:_SNIFF_LIMIT])
    end = raw.find(b"\n", 0, _SNIFF_LIMIT)
    if end < 0:
        if len(raw) > _SNIFF_LIMIT:
            raise InputRefused(path, "not a table: no header line")
        end = len(raw)
    first = _to_utf8(path, raw[:end])
    frame = _parse_csv(path, first, n_rows=1)
    return [cell if isinstance(cell, str) else "" for cell in frame.row(0)]


# --- XLSX ----------------------------------------------------------------------------------


def _open_xlsx(path: Path, raw: bytes) -> Any:
    import fastexcel

    try:
        reader = fastexcel.read_excel(raw)
        if not reader.sheet_names:
            raise InputRefused(path, "not a table: the workbook has no sheet")
    except fastexcel.FastExcelError as exc:
        raise InputRefused(
            path, f"not a table: cannot read it as XLSX ({_first_line(exc)})"
        ) from None
    return reader


def _load_sheet(path: Path, reader: Any, **options: Any) -> pl.DataFrame:
    """Sheet 1 with row 1 as data (row index = sheet row - 1), leading empty rows kept."""
    import fastexcel

    try:
        frame = reader.load_sheet(0, header_row=None, skip_rows=0, **options).to_polars()
    except fastexcel.FastExcelError as exc:
        raise InputRefused(path, f"not a table: cannot read sheet 1 ({_first_line(exc)})") from None
    assert isinstance(frame, pl.DataFrame)
    return frame


def _xlsx_header(path: Path, raw: bytes) -> list[str]:
    frame = _load_sheet(path, _open_xlsx(path, raw), n_rows=1, dtypes="string")
    if frame.height == 0:
        raise InputRefused(path, "empty file: no header row")
    return [cell if isinstance(cell, str) else "" for cell in frame.row(0)]


def _read_xlsx(path: Path, raw: bytes, columns: Sequence[Column]) -> pl.DataFrame:
    reader = _open_xlsx(path, raw)
    # Every cell as text: numbers in their shortest exact form ("12", "540.1"), dates as
    # "YYYY-MM-DD HH:MM:SS", booleans as "true"/"false".
    frame = _load_sheet(path, reader, dtypes="string")
    if frame.height == 0:
        raise InputRefused(path, "empty file: no header row")
    header = [cell if isinstance(cell, str) else "" for cell in frame.row(0)]
    mapping = _map_header(path, header, columns)
    frame = _xlsx_cell_types(path, reader, frame, mapping, columns)
    return _finish(frame, mapping, columns)


def _xlsx_cell_types(
    path: Path,
    reader: Any,
    frame: pl.DataFrame,
    mapping: dict[str, int],
    columns: Sequence[Column],
) -> pl.DataFrame:
    """Apply what the cell *type* means: numbers in ID columns, amounts, dates.

    The text read cannot tell the number 540.1 from the text "540.1"; a second read of the
    same cells as booleans can: calamine turns every number (and boolean) into a boolean and
    every text or date into null. A read as durations likewise marks the date cells.
    """
    by_name = {c.name: c for c in columns}
    names = frame.columns
    typed = {
        mapping[c.name]: "boolean"
        for c in columns
        if c.name in mapping and (c.text_only or c.amount)
    }
    data_rows = frame.slice(1)
    for index in mapping.values():
        if (
            index not in typed
            and data_rows.get_column(names[index]).str.contains(_CELL_DATETIME).any()
        ):
            typed[index] = "duration"
    if not typed:
        return frame
    kinds = _load_sheet(path, reader, use_columns=sorted(typed), dtypes=typed)
    if kinds.height != frame.height or kinds.width != len(typed):  # pragma: no cover
        raise InputRefused(path, "not a table: the sheet reads differently twice")
    kind_of = {index: f"__kind_{index}" for index in sorted(typed)}
    both = pl.concat(
        [frame, kinds.rename(dict(zip(kinds.columns, kind_of.values(), strict=True)))],
        how="horizontal",
    )

    updates: list[pl.Expr] = []
    for name, index in mapping.items():
        if index not in typed:
            continue
        column = by_name[name]
        text = pl.col(names[index])
        marker = pl.col(kind_of[index])
        if typed[index] == "duration":
            updates.append(
                pl.when(marker.is_not_null())
                .then(text.str.replace(_CELL_DATETIME, "$1"))
                .otherwise(text)
                .alias(names[index])
            )
            continue
        # Row 0 is the header, a text cell naming this column: never numeric.
        numeric = marker.is_not_null() & ~text.is_in(["true", "false"])
        if column.text_only:
            first = both.select(pl.arg_where(numeric).first()).item()
            if first is not None:
                raise InputRefused(
                    path,
                    f"column {column.name} holds numbers in XLSX (digits may be lost); "
                    "store it as text",
                    line=int(first) + 1,
                )
        elif column.amount:
            value = text.cast(pl.Float64, strict=False)
            fen = (value * 100).round(0)
            whole = numeric & (value >= 0) & (fen < _MAX_EXACT_FEN) & (fen / 100 == value)
            # A whole number of fen becomes "540.10"; any other number keeps its exact
            # shortest text ("540.001", "-5"), which the amount rule then rejects.
            updates.append(
                pl.when(whole)
                .then(yuan_expr(fen.cast(pl.Int64)))
                .otherwise(text)
                .alias(names[index])
            )
    if not updates:
        return frame
    return both.with_columns(updates).select(names)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# --- header and cells ----------------------------------------------------------------------


def _match_header(cell: str, columns: Sequence[Column]) -> Column | None:
    """The column a header cell names: canonical English (any case) or Chinese, stripped."""
    key = cell.strip()
    folded = key.lower() if key.isascii() else key
    for column in columns:
        if folded == column.name or key == column.zh:
            return column
    return None


def _map_header(path: Path, header: Sequence[str], columns: Sequence[Column]) -> dict[str, int]:
    """Canonical name → index of the file column holding it; refuses missing and doubled."""
    mapping: dict[str, int] = {}
    for index, cell in enumerate(header):
        column = _match_header(cell, columns)
        if column is None:
            continue
        if column.name in mapping:
            first = mapping[column.name]
            raise InputRefused(
                path,
                f"columns {first + 1} ({header[first].strip()!r}) and {index + 1} "
                f"({cell.strip()!r}) both hold {column.name} ({column.zh})",
            )
        mapping[column.name] = index
    missing = [c for c in columns if c.required and c.name not in mapping]
    if missing:
        listed = ", ".join(f"{c.name} ({c.zh})" for c in missing)
        plural = "s" if len(missing) > 1 else ""
        raise InputRefused(path, f"missing required column{plural} {listed}")
    return mapping


def _finish(
    frame: pl.DataFrame, mapping: dict[str, int], columns: Sequence[Column]
) -> pl.DataFrame:
    """Strip every cell, null the empty ones, drop empty rows, select and name the columns.

    ``frame`` holds the header as row 0 and String columns only.
    """
    names = frame.columns
    cleaned = [
        pl.col(name).str.strip_chars(WHITESPACE).replace("", None).alias(name) for name in names
    ]
    selected = [
        pl.col(names[mapping[c.name]]).alias(c.name)
        if c.name in mapping
        else pl.lit(None, dtype=pl.String).alias(c.name)
        for c in columns
    ]
    return (
        frame.with_row_index(_ROW)
        .slice(1)
        .with_columns(cleaned)
        .filter(pl.any_horizontal([pl.col(name).is_not_null() for name in names]))
        .select(*selected, (pl.col(_ROW).cast(pl.Int64) + 1).alias(_SOURCE_LINE))
    )
