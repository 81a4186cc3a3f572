"""Bank request and result files (SPEC §4): bytes ⇄ frames, driven by a ``Layout``.

Four verbs, symmetric: ``render_request`` / ``parse_request`` and ``render_result`` /
``parse_result``. Writers take the detail records as a frame and compute the header and trailer
figures from them; every line ends in CRLF, the last one too, and the text is encoded to the
bank's encoding once per file. Readers never raise on bad content: they return every problem of
the file (``ParsedFile.problems``, empty when the file is sound) with its line and field, and the
caller refuses the file whole (SPEC §5).

Fixed layouts are measured in bytes of the bank's encoding. A reader cuts records by decoding
the file as latin-1 (one character per byte) and slicing in polars, then re-decodes the text
fields that hold non-ASCII bytes; the file as a whole must still decode strictly in the bank's
encoding. A delimited file is decoded first and split afterwards: a GBK trail byte can be 0x7C,
the "|" of the delimiter, so raw bytes are never split on it. Line ends (0x0A, 0x0D) are never
part of a multi-byte character in an ASCII-compatible encoding, so splitting lines is safe.

Everything per line is a polars expression; Python only touches the header, the trailer and the
(capped) list of problems.
"""

from __future__ import annotations

import codecs
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath

import polars as pl

from premium_debit.errors import InternalError
from premium_debit.formats.encoding import byte_len_expr, require_ascii_compatible
from premium_debit.formats.layout import (
    CATALOGUE,
    DATE_FORMAT,
    RECORD_KINDS,
    FieldSpec,
    FieldType,
    FileKind,
    FileLayout,
    Layout,
    RecordKind,
)
from premium_debit.model.money import yuan_expr, yuan_text

CRLF = "\r\n"
EXTENSIONS: dict[FileKind, str] = {"request": ".req", "result": ".ret"}
# A broken file of a million lines would otherwise carry a million problems; the operator needs
# the first ones and the count of the rest.
MAX_LISTED_PROBLEMS = 1000
_MAX_SHOWN_VALUE = 40

_DTYPES: dict[FieldType, type[pl.DataType]] = {
    FieldType.INT: pl.Int64,
    FieldType.AMOUNT: pl.Int64,
    FieldType.TEXT: pl.String,
    FieldType.DATE: pl.Date,
}
# Number fields: digits only, short enough for Int64 (fen of 16-digit yuan included).
_DIGITS = r"^[0-9]{1,18}$"
_YUAN = r"^[0-9]{1,16}\.[0-9]{2}$"
_DATE = r"^[0-9]{8}$"
_FIGURE_LABELS = {
    "count": "count",
    "total_fen": "total",
    "success_count": "success count",
    "success_fen": "success total",
}
_BYTES = "_bytes_"  # prefix of the writer's byte-length columns


def _replace_one_byte(exc: UnicodeError) -> tuple[str, int]:
    """Replace one bad byte and resume right after it. The "replace" handler may swallow a
    truncated sequence whole at the end of the input, line end included, which would shift
    every later value of a joined column."""
    assert isinstance(exc, UnicodeDecodeError)
    return "\ufffd", exc.start + 1


_LOSSY = "premium_debit.replace_one_byte"
codecs.register_error(_LOSSY, _replace_one_byte)


@dataclass(frozen=True)
class RequestHeader:
    batch_id: str
    bank_code: str
    period: int
    created: date


@dataclass(frozen=True)
class ResultHeader:
    batch_id: str
    bank_code: str
    processed: date


@dataclass(frozen=True)
class Problem:
    """One defect of a bank file; ``str()`` is one line: "line 3, field amount_fen: …"."""

    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = [f"line {self.line}"] if self.line is not None else []
        if self.field is not None:
            where.append(f"field {self.field}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass
class ParsedFile:
    """A parsed bank file: header and trailer values by canonical field name (None where absent
    or unreadable), the detail records with their ``line``, and every problem found."""

    header: dict[str, object]
    details: pl.DataFrame
    trailer: dict[str, object]
    problems: list[Problem]

    @property
    def sound(self) -> bool:
        return not self.problems


# ---------------------------------------------------------------------------------------------
# Writing


def render_request(
    layout: Layout, encoding: str, header: RequestHeader, details: pl.DataFrame
) -> bytes:
    """The request file of one batch; ``details`` has one row per instruction, in file order
    (seq, instruction_id, account_no, name, amount_fen, person_id)."""
    _require_columns(layout.request, "detail", details)
    count, total = details.height, _sum(details["amount_fen"])
    head = {
        "batch_id": header.batch_id,
        "bank_code": header.bank_code,
        "period": header.period,
        "count": count,
        "total_fen": total,
        "created": header.created,
    }
    tail: dict[str, object] = {"count": count, "total_fen": total}
    return _render(_Writer(layout, encoding, "request"), head, details, tail, {})


def render_result(
    layout: Layout,
    encoding: str,
    header: ResultHeader,
    details: pl.DataFrame,
    success_codes: frozenset[str],
    *,
    overrides: Mapping[str, object] | None = None,
) -> bytes:
    """The result file of one batch (seq, instruction_id, account_no, amount_fen, debited_fen,
    code, message, bank_ref per row). Success figures count the rows whose code is in
    ``success_codes``, summing ``debited_fen``.

    ``overrides`` plants faults for the bank simulator: ``{"header.count": 7}`` writes 7 instead
    of the computed count; an int or date is formatted like the field, a str is written verbatim
    (no padding), e.g. ``{"trailer.total_fen": "12x"}``.
    """
    _require_columns(layout.result, "detail", details)
    success = details.filter(pl.col("code").is_in(sorted(success_codes)))
    count, total = details.height, _sum(details["amount_fen"])
    head = {
        "batch_id": header.batch_id,
        "bank_code": header.bank_code,
        "count": count,
        "total_fen": total,
        "success_count": success.height,
        "success_fen": _sum(success["debited_fen"]),
        "processed": header.processed,
    }
    tail: dict[str, object] = {"count": count, "total_fen": total}
    return _render(_Writer(layout, encoding, "result"), head, details, tail, overrides or {})


def _sum(column: pl.Series) -> int:
    return int(column.sum() or 0)


@dataclass(frozen=True)
class _Writer:
    layout: Layout
    encoding: str
    file_kind: FileKind

    @property
    def spec(self) -> FileLayout:
        return self.layout.file(self.file_kind)


def _render(
    writer: _Writer,
    head: dict[str, object],
    details: pl.DataFrame,
    tail: dict[str, object],
    overrides: Mapping[str, object],
) -> bytes:
    require_ascii_compatible(writer.encoding)
    values: dict[str, dict[str, object]] = {"header": head, "trailer": tail}
    verbatim: dict[str, dict[str, str]] = {"header": {}, "trailer": {}}
    for key, value in overrides.items():
        record, _, name = key.partition(".")
        if record not in values or name not in values[record]:
            raise InternalError(f"override {key!r}: no such header or trailer field")
        record_kind: RecordKind = "header" if record == "header" else "trailer"
        if not any(f.name == name for f in writer.spec.record(record_kind)):
            raise InternalError(f"override {key!r}: the {writer.layout.name} layout lacks it")
        if isinstance(value, str):
            verbatim[record][name] = value
        else:
            values[record][name] = value
    # Details first: a bad value is reported on its record rather than on the header's total.
    body = _render_records(writer, "detail", details, {})
    header = _one_row(writer.file_kind, "header", head)
    trailer = _one_row(writer.file_kind, "trailer", tail)
    texts = [  # (text, its first line)
        (_render_records(writer, "header", header, verbatim["header"]), 1),
        (body, 2),
        (_render_records(writer, "trailer", trailer, verbatim["trailer"]), details.height + 2),
    ]
    # Encoded part by part: the body of a million lines is not copied once more to add the
    # header in front.
    crlf = CRLF.encode("ascii")
    return crlf.join(_encode(writer, text, first_line) for text, first_line in texts if text) + crlf


def _encode(writer: _Writer, text: str, first_line: int) -> bytes:
    try:
        return text.encode(writer.encoding)
    except UnicodeEncodeError as exc:
        line = first_line + text.count("\n", 0, exc.start)
        raise InternalError(
            f"{writer.file_kind} file, line {line}: {exc.object[exc.start]!r} cannot be written"
            f" in {writer.encoding} (the build should have rejected it)"
        ) from None


def _one_row(file_kind: FileKind, record: RecordKind, values: dict[str, object]) -> pl.DataFrame:
    schema = {name: _DTYPES[t] for name, (t, _) in CATALOGUE[file_kind][record].items()}
    return pl.DataFrame([{name: values.get(name) for name in schema}], schema=schema)


def _require_columns(spec: FileLayout, record: RecordKind, frame: pl.DataFrame) -> None:
    missing = [f.name for f in spec.record(record)[1:] if f.name not in frame.columns]
    if missing:
        raise InternalError(f"{record} records lack the column(s) {', '.join(missing)}")


def _render_records(
    writer: _Writer, record: RecordKind, frame: pl.DataFrame, verbatim: dict[str, str]
) -> str:
    """The records of ``frame`` as lines of text (without line ends), joined by CRLF."""
    layout = writer.layout
    fields = writer.spec.record(record)
    if layout.is_fixed:
        frame = _with_byte_sizes(frame, fields, writer.encoding, verbatim)
    parts: list[pl.Expr] = []
    checks: list[tuple[str, str, pl.Expr]] = []
    for f in fields:
        if f.type is FieldType.TAG:
            parts.append(pl.lit(f.value))
        elif f.name in verbatim:
            parts.append(pl.lit(verbatim[f.name]))
        else:
            text, bad = _format_field(layout, f)
            parts.append(text)
            checks.append((f.name, "the value is missing", pl.col(f.name).is_null()))
            checks.extend((f.name, why, predicate) for why, predicate in bad)
    if layout.is_fixed:
        padding = (writer.spec.record_length or 0) - sum(f.width or 0 for f in fields)
        if padding:
            parts.append(pl.lit(" " * padding))
    _raise_on_bad_values(frame, checks, f"{writer.file_kind} {record}")
    separator = "" if layout.is_fixed else (layout.delimiter or "")
    lines = frame.select(pl.concat_str(parts, separator=separator).alias("record"))["record"]
    return str(lines.str.join(CRLF).item()) if frame.height else ""


def _with_byte_sizes(
    frame: pl.DataFrame, fields: list[FieldSpec], encoding: str, verbatim: dict[str, str]
) -> pl.DataFrame:
    """Add ``_bytes_<name>``, the byte length in ``encoding`` of each fixed text field (null
    where it cannot be written), computed once for padding and checking alike. An all-ASCII
    column (ids, account numbers) skips the regex passes: its UTF-8 length is the answer."""
    names = [f.name for f in fields if f.type is FieldType.TEXT and f.name not in verbatim]
    if not names or not frame.height:
        return frame.with_columns(pl.lit(None, pl.Int64).alias(_BYTES + n) for n in names)
    wide = frame.select(
        (pl.col(n).str.len_bytes() != pl.col(n).str.len_chars()).any().alias(n) for n in names
    ).row(0, named=True)
    return frame.with_columns(
        (byte_len_expr(pl.col(n), encoding) if wide[n] else pl.col(n).str.len_bytes())
        .cast(pl.Int64)
        .alias(_BYTES + n)
        for n in names
    )


def _format_field(layout: Layout, f: FieldSpec) -> tuple[pl.Expr, list[tuple[str, pl.Expr]]]:
    """The field's text, and (why, predicate) for each kind of value the field cannot hold.
    A fixed text field needs its ``_bytes_<name>`` column (``_with_byte_sizes``)."""
    col = pl.col(f.name)
    width = f.width
    if f.type in (FieldType.INT, FieldType.AMOUNT):
        if f.type is FieldType.AMOUNT and layout.amount_unit == "yuan":
            text = yuan_expr(col)
        else:
            text = col.cast(pl.String)
        bad = [("the value is negative", col < 0)]
        if width is None:
            return text, bad
        bad.append((f"the value has more than {width} digits", text.str.len_chars() > width))
        return text.str.pad_start(width, "0"), bad
    if f.type is FieldType.DATE:
        return col.dt.strftime(DATE_FORMAT), []
    # Text: a fixed field is padded to its width in bytes of the bank's encoding; a delimited one
    # must not carry the delimiter or a line end.
    if width is not None:
        size = pl.col(_BYTES + f.name)
        padded = col.str.pad_end(col.str.len_chars().cast(pl.Int64) + (width - size))
        return padded, [
            (
                "the text cannot be written in the bank's encoding",
                col.is_not_null() & size.is_null(),
            ),
            (f"the text is longer than {width} bytes in the bank's encoding", size > width),
        ]
    delimiter = layout.delimiter or ""
    breaks = col.str.contains(f"[{_regex_escape(delimiter)}\r\n]")
    return col, [(f"the text holds the delimiter {delimiter!r} or a line end", breaks)]


def _regex_escape(char: str) -> str:
    return f"\\x{{{ord(char):X}}}"


def _raise_on_bad_values(
    frame: pl.DataFrame, checks: list[tuple[str, str, pl.Expr]], what: str
) -> None:
    """A value a field cannot hold is the program's bug (the build validates first): raise
    naming the field and record, never the value (it may be a name or an account)."""
    if not checks or not frame.height:
        return
    flags = frame.select(
        [predicate.fill_null(False).alias(str(i)) for i, (_, _, predicate) in enumerate(checks)]
    )
    for (name, why, _), column in zip(checks, flags.iter_columns(), strict=True):
        if column.any():
            position = int(column.arg_true()[0]) + 1
            raise InternalError(f"{what} record {position}, field {name}: {why}")


# ---------------------------------------------------------------------------------------------
# Reading


def parse_request(layout: Layout, encoding: str, data: bytes, file_name: str) -> ParsedFile:
    """Read a request file; never raises on bad content (see ``ParsedFile.problems``)."""
    return _parse(_Reader(layout, encoding, "request"), data, file_name, None)


def parse_result(
    layout: Layout, encoding: str, data: bytes, file_name: str, success_codes: frozenset[str]
) -> ParsedFile:
    """Read a result file; never raises on bad content. The header's success figures are
    checked against the rows whose code is in ``success_codes``."""
    return _parse(_Reader(layout, encoding, "result"), data, file_name, success_codes)


class _Problems:
    """Problems found so far: a few from Python, whole columns of them from polars."""

    def __init__(self) -> None:
        self.listed: list[Problem] = []
        self.frames: list[pl.DataFrame] = []

    def add(self, line: int | None, field: str | None, message: str) -> None:
        self.listed.append(Problem(line, field, message))

    def add_rows(
        self,
        frame: pl.DataFrame,
        where: pl.Expr,
        field: str | None,
        message: pl.Expr | str,
        value: pl.Expr | None = None,
    ) -> None:
        """One problem per row of ``frame`` where ``where`` holds."""
        rows = frame.filter(where.fill_null(False)).select(
            pl.col("line"),
            pl.lit(field, pl.String).alias("field"),
            (pl.lit(message) if isinstance(message, str) else message).alias("message"),
            (value if value is not None else pl.lit(None)).cast(pl.String).alias("value"),
            pl.lit(len(self.frames), pl.Int64).alias("check"),
        )
        if rows.height:
            self.frames.append(rows)

    def result(self) -> list[Problem]:
        out = list(self.listed)
        extra = 0
        if self.frames:
            rows = pl.concat(self.frames).sort("line", "check")
            extra = max(0, rows.height - MAX_LISTED_PROBLEMS)
            for line, fld, message, value, _ in rows.head(MAX_LISTED_PROBLEMS).iter_rows():
                out.append(Problem(line, fld, message + _shown(value)))
        out.sort(key=lambda p: -1 if p.line is None else p.line)
        if extra:
            out.append(Problem(None, None, f"… and {extra} more problems not listed"))
        return out


def _shown(value: str | None) -> str:
    if value is None:
        return ""
    if len(value) > _MAX_SHOWN_VALUE:
        value = value[:_MAX_SHOWN_VALUE] + "…"
    return f": {value!r}"


def _empty(file_kind: FileKind, record: RecordKind) -> pl.DataFrame:
    schema: dict[str, type[pl.DataType]] = {"line": pl.Int64}
    schema |= {name: _DTYPES[t] for name, (t, _) in CATALOGUE[file_kind][record].items()}
    return pl.DataFrame(schema=schema)


@dataclass
class _Reader:
    layout: Layout
    encoding: str
    file_kind: FileKind
    problems: _Problems = dataclasses.field(default_factory=_Problems)
    strict: bool = True  # the whole file decodes strictly in ``encoding``

    @property
    def spec(self) -> FileLayout:
        return self.layout.file(self.file_kind)


def _parse(
    reader: _Reader, data: bytes, file_name: str, success_codes: frozenset[str] | None
) -> ParsedFile:
    """``success_codes`` is None for a request file (no success figures)."""
    require_ascii_compatible(reader.encoding)
    file_kind = reader.file_kind
    if not data:
        reader.problems.add(None, None, "the file is empty")
        frames = {r: _empty(file_kind, r) for r in RECORD_KINDS}
    else:
        lines = _classify(reader, _split_lines(_decode(reader, data)))
        _check_structure(reader, lines)
        frames = {r: _read_fields(reader, r, lines) for r in RECORD_KINDS}
    header, header_line = _first(frames["header"])
    trailer, trailer_line = _first(frames["trailer"])
    details = frames["detail"]
    _check_figures(
        reader, details, header, line=header_line, record="header", success_codes=success_codes
    )
    _check_figures(reader, details, trailer, line=trailer_line, record="trailer")
    _check_file_name(reader, file_name, header)
    return ParsedFile(header, details, trailer, reader.problems.result())


def _decode(reader: _Reader, data: bytes) -> str:
    """The text to cut into records; notes whether the file decodes strictly."""
    encoding = reader.encoding
    strict: str | None
    try:
        strict = data.decode(encoding)
    except UnicodeDecodeError as exc:
        strict = None
        reader.strict = False
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        reader.problems.add(
            data.count(b"\n", 0, exc.start) + 1,
            None,
            f"cannot be decoded as {encoding}: byte 0x{data[exc.start]:02X} at byte"
            f" {exc.start - line_start + 1} of the line",
        )
    if reader.layout.is_fixed:
        return data.decode("latin-1")  # one character per byte: slicing by bytes
    if strict is None:
        # Keep reading to report the file's other problems; the file is refused anyway.
        return data.decode(encoding, errors=_LOSSY)
    return strict


def _split_lines(text: str) -> pl.DataFrame:
    """One row per physical line: ``line`` (1-based) and ``raw`` without its CRLF or LF."""
    raw = pl.Series("raw", [text]).str.split("\n").explode()
    if text.endswith("\n"):
        raw = raw.head(raw.len() - 1)
    return (
        raw.str.strip_suffix("\r")
        .to_frame()
        .with_row_index("line", offset=1)
        .with_columns(pl.col("line").cast(pl.Int64))
    )


def _classify(reader: _Reader, lines: pl.DataFrame) -> pl.DataFrame:
    """Add ``tag``, ``kind`` (header/detail/trailer, null when unknown), ``size`` (bytes, or
    fields when delimited), the ``expected`` size of its kind and ``shape_ok``."""
    layout, spec = reader.layout, reader.spec
    tags = {r: spec.tag(r) for r in RECORD_KINDS}
    if layout.is_fixed:
        tag = pl.col("raw").str.slice(0, len(tags["header"]))
        size = pl.col("raw").str.len_chars().cast(pl.Int64)
        expected = {r: spec.record_length for r in RECORD_KINDS}
    else:
        lines = lines.with_columns(pl.col("raw").str.split(layout.delimiter or "").alias("parts"))
        tag = pl.col("parts").list.first()
        size = pl.col("parts").list.len().cast(pl.Int64)
        expected = {r: len(spec.record(r)) for r in RECORD_KINDS}
    kind: pl.Expr = pl.lit(None, pl.String)
    want: pl.Expr = pl.lit(None, pl.Int64)
    for r in reversed(RECORD_KINDS):
        kind = pl.when(pl.col("tag") == tags[r]).then(pl.lit(r)).otherwise(kind)
        want = pl.when(pl.col("kind") == r).then(pl.lit(expected[r], pl.Int64)).otherwise(want)
    return (
        lines.with_columns(tag.alias("tag"), size.alias("size"))
        .with_columns(kind.alias("kind"))
        .with_columns(want.alias("expected"))
        .with_columns((pl.col("size") == pl.col("expected")).fill_null(False).alias("shape_ok"))
    )


def _check_structure(reader: _Reader, lines: pl.DataFrame) -> None:
    """Record types in H, D…, T order; each record of the size its type requires."""
    problems, spec = reader.problems, reader.spec
    kind, line = pl.col("kind"), pl.col("line")
    last = lines.height
    problems.add_rows(lines, pl.col("raw") == "", None, "empty line")
    problems.add_rows(
        lines, (pl.col("raw") != "") & kind.is_null(), None, "unknown record type", pl.col("tag")
    )
    problems.add_rows(
        lines,
        (line == 1) & kind.is_in(["detail", "trailer"]),
        None,
        f"the file must start with the header record {spec.tag('header')!r}",
    )
    problems.add_rows(lines, (line > 1) & (kind == "header"), None, "a second header record")
    problems.add_rows(
        lines, (line < last) & (kind == "trailer"), None, "trailer record before the last line"
    )
    if lines["kind"][last - 1] != "trailer":
        trailer = spec.tag("trailer")
        problems.add(
            None, None, f"the file ends without the trailer record {trailer!r} (truncated?)"
        )
    size = "is {} bytes long" if reader.layout.is_fixed else "has {} fields"
    problems.add_rows(
        lines,
        kind.is_not_null() & ~pl.col("shape_ok"),
        None,
        pl.format(f"{{}} record {size}, expected {{}}", kind, "size", "expected"),
    )


def _read_fields(reader: _Reader, record: RecordKind, lines: pl.DataFrame) -> pl.DataFrame:
    """The records of one type as typed columns (null on a line of the wrong size), reporting
    every field that does not read as its type."""
    layout, spec, problems = reader.layout, reader.spec, reader.problems
    rows = lines.filter(pl.col("kind") == record)
    ok = pl.col("shape_ok")
    raw_fields: list[pl.Expr] = []
    offset = 0
    for i, f in enumerate(spec.record(record)):
        width = f.width or 0
        if f.type is not FieldType.TAG:
            if layout.is_fixed:
                raw = pl.col("raw").str.slice(offset, width)
                if f.type is FieldType.TEXT:
                    raw = raw.str.strip_chars_end(" ")
            else:
                raw = pl.col("parts").list.get(i, null_on_oob=True)
            raw_fields.append(pl.when(ok).then(raw).alias(f.name))
        offset += width
    texts = rows.select(pl.col("line"), *raw_fields)
    if layout.is_fixed and offset < (spec.record_length or 0):
        padding = pl.col("raw").str.slice(offset)
        problems.add_rows(
            rows,
            ok & ~padding.str.contains(r"^ *$"),
            None,
            f"bytes {offset + 1}–{spec.record_length} must be spaces",
            padding,
        )
    columns: list[pl.Expr] = [pl.col("line")]
    for name, (ftype, _) in CATALOGUE[reader.file_kind][record].items():
        if name not in texts.columns:
            columns.append(pl.lit(None, _DTYPES[ftype]).alias(name))
        elif ftype is FieldType.TEXT:
            if layout.is_fixed:
                texts = texts.with_columns(_redecode(reader, texts, name))
            columns.append(pl.col(name))
        else:
            value, what = _typed(layout, ftype, pl.col(name))
            unreadable = pl.col(name).is_not_null() & value.is_null()
            problems.add_rows(texts, unreadable, name, what, pl.col(name))
            columns.append(value.alias(name))
    return texts.select(columns)


def _typed(layout: Layout, ftype: FieldType, raw: pl.Expr) -> tuple[pl.Expr, str]:
    """The typed value of a field's text (null when it does not read) and what it should be."""
    if ftype is FieldType.DATE:
        value = pl.when(raw.str.contains(_DATE)).then(raw.str.to_date(DATE_FORMAT, strict=False))
        return value, "not a date YYYYMMDD"
    if ftype is FieldType.AMOUNT and layout.amount_unit == "yuan":
        fen = raw.str.replace(".", "", literal=True).cast(pl.Int64, strict=False)
        return pl.when(raw.str.contains(_YUAN)).then(fen), "not an amount in yuan with 2 decimals"
    number = pl.when(raw.str.contains(_DIGITS)).then(raw.cast(pl.Int64, strict=False))
    if ftype is FieldType.AMOUNT:
        return number, "not an amount in fen (digits only)"
    return number, "not a whole number"


def _redecode(reader: _Reader, texts: pl.DataFrame, name: str) -> pl.Series:
    """A fixed text field cut from latin-1 text, decoded in the bank's encoding.

    The column is joined, re-encoded and decoded once (not per line); 0x0A never occurs inside
    a multi-byte character, so it separates the values. A value whose bytes do not decode on
    their own (a character cut by the field's edge) is reported when the file as a whole
    decoded strictly — otherwise that one problem is already reported.
    """
    encoding = reader.encoding
    column = texts[name]
    if not column.str.contains(r"[^\x00-\x7F]").any():
        return column  # ASCII reads the same in every ASCII-compatible encoding
    joined = str(column.fill_null("").str.join("\n").item())
    decoded = joined.encode("latin-1").decode(encoding, errors=_LOSSY)
    values = pl.Series(name, [decoded]).str.split("\n").explode()
    if values.len() != column.len():
        raise InternalError(f"re-decoding field {name} in {encoding} lost its line structure")
    values = pl.select(pl.when(column.is_not_null()).then(values)).to_series().alias(name)
    if reader.strict:
        replaced = values.str.contains("\ufffd", literal=True)
        try:
            genuine = column.str.contains("\ufffd".encode(encoding).decode("latin-1"), literal=True)
        except UnicodeEncodeError:
            genuine = pl.repeat(False, column.len(), eager=True)
        reader.problems.add_rows(
            texts.with_columns((replaced & ~genuine).alias("_cut")),
            pl.col("_cut"),
            name,
            f"cannot be decoded as {encoding} on its own (a character is cut by the field's edge)",
        )
    return values


def _first(frame: pl.DataFrame) -> tuple[dict[str, object], int | None]:
    """The values of the first record of a frame (all None when there is none), and its line."""
    if not frame.height:
        return {name: None for name in frame.columns if name != "line"}, None
    row = frame.row(0, named=True)
    line = row.pop("line")
    return row, line


def _check_figures(
    reader: _Reader,
    details: pl.DataFrame,
    values: dict[str, object],
    *,
    line: int | None,
    record: RecordKind,
    success_codes: frozenset[str] | None = None,
) -> None:
    """Header or trailer count and totals against the detail lines (SPEC §4.1): they cover
    every detail line; the result header's success figures cover the lines whose code means
    success, summing ``debited``."""
    if line is None:
        return

    def compare(name: str, actual: int, against: str) -> None:
        stated = values.get(name)
        if not isinstance(stated, int) or stated == actual:
            return  # absent from the layout or unreadable (reported already), or right
        money = name.endswith("_fen")
        label = _FIGURE_LABELS[name]
        shown = yuan_text(stated) if money else str(stated)
        what = against.format(actual=yuan_text(actual) if money else actual)
        reader.problems.add(line, name, f"{record} {label} {shown} disagrees with {what}")

    amounts = details["amount_fen"]
    compare("count", details.height, "the {actual} detail lines")
    if amounts.null_count() == 0:
        compare("total_fen", _sum(amounts), "the detail amounts, which add up to {actual}")
    if success_codes is None or details["code"].null_count():
        return
    success = details.filter(pl.col("code").is_in(sorted(success_codes)))
    compare("success_count", success.height, "the {actual} detail lines whose code means success")
    if success["debited_fen"].null_count() == 0:
        compare(
            "success_fen",
            _sum(success["debited_fen"]),
            "the amounts debited on the lines whose code means success, which add up to {actual}",
        )


def _check_file_name(reader: _Reader, file_name: str, header: dict[str, object]) -> None:
    """The batch id inside the file is authoritative; a name that disagrees is refused."""
    batch_id, bank_code = header.get("batch_id"), header.get("bank_code")
    if batch_id is None or bank_code is None:
        return
    expected = f"{bank_code}_{batch_id}{EXTENSIONS[reader.file_kind]}"
    actual = PurePath(file_name).name
    if actual != expected:
        reader.problems.add(
            None,
            None,
            f"the file name {actual!r} disagrees with its header, which names batch"
            f" {batch_id!r} of bank {bank_code!r}: expected {expected!r}",
        )
