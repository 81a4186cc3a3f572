"""Reading the tabular inputs of SPEC §2: encodings, headers, cells, XLSX cell types, sniffing."""

from __future__ import annotations

import csv
import io
import re
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from premium_debit.errors import InputRefused
from premium_debit.formats import tabular
from premium_debit.formats.tabular import (
    DUE_COLUMNS,
    PAID_COLUMNS,
    REGISTRY_COLUMNS,
    WHITESPACE,
    Column,
    read_table,
    sniff_table_kind,
)
from premium_debit.model.money import AMOUNT_PATTERN

INPUTS = Path(__file__).resolve().parents[2] / "fixtures" / "inputs"
PID_1 = "330283199001010016"
PID_2 = "330283198512310024"
PID_3 = "330283201006150034"
DUE_NAMES = [c.name for c in DUE_COLUMNS]
DUE_SCHEMA = {**{name: pl.String for name in DUE_NAMES}, "source_line": pl.Int64}


def _xlsx(rows: Sequence[Sequence[object]]) -> bytes:
    """An in-memory workbook: strings as text cells, numbers as number cells, None as blank."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet()
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, str):
                sheet.write_string(r, c, value)
            elif isinstance(value, (int, float)):
                sheet.write_number(r, c, value)
    workbook.close()
    return buffer.getvalue()


def _refusal(path: Path, columns: tuple[Column, ...], data: bytes | None = None) -> str:
    """The one-line message read_table refuses the input with."""
    with pytest.raises(InputRefused) as info:
        read_table(path, columns, data=data)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- white space -----------------------------------------------------------------------------


def test_whitespace__is_exactly_python_isspace() -> None:
    """The strip set is every code point Python's str.strip() removes, and nothing else."""
    expected = {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}
    assert set(WHITESPACE) == expected
    assert len(WHITESPACE) == len(expected)


def test_csv__strips_ideographic_nbsp_tab_and_separator_spaces() -> None:
    """U+3000, U+00A0, tabs, U+2003 and U+001F around a value go; inner ones and U+200B stay."""
    data = (
        "person_id,name,township,category,period,amount_due\n"
        f"\u3000{PID_1}\u00a0,\t张\u3000三 \x1f,\u2003西坞街道,\u200b城乡居民,2027,380\n"
    ).encode()
    frame = read_table(Path("ws.csv"), DUE_COLUMNS, data=data)
    assert frame.rows() == [
        (PID_1, "张\u3000三", "西坞街道", None, "\u200b城乡居民", "2027", "380", 2)
    ]


# --- round trip ------------------------------------------------------------------------------

_PADDING = " \t\u3000\u00a0\u2003"
_LETTERS = (
    "aZ09.-_'\",#;|/"  # ASCII, including the CSV quote and separator
    "张三李四王五欧阳娜·鸣雁村西坞街道"  # CJK
    "ＡＢ１２（），"  # full-width forms
    "\U0002a6a5"  # outside the BMP (four bytes in GB18030)
)
_cell = st.builds(
    lambda left, core, right: left + core + right,
    st.text(_PADDING, max_size=2),
    st.text(_LETTERS + _PADDING, max_size=6),
    st.text(_PADDING, max_size=2),
)
_csv_cell = st.one_of(_cell, st.builds(lambda a, b: f"{a}\n{b}", _cell, _cell))


@st.composite
def _tables(
    draw: st.DrawFn, cell: st.SearchStrategy[str]
) -> tuple[list[str], list[list[str]], list[tuple[object, ...]]]:
    """A due-list table (headers, raw rows) and the rows read_table must return for it."""
    names = [c for c in DUE_COLUMNS if c.required or draw(st.booleans())]
    headers = {c.name: draw(st.sampled_from([c.name, c.zh, f" {c.zh}\u3000"])) for c in names}
    order = draw(st.permutations([*(c.name for c in names), "备注"]))
    header_row = [headers.get(name, "备注") for name in order]
    raw_rows = draw(st.lists(st.lists(cell, min_size=len(order), max_size=len(order)), max_size=8))
    expected: list[tuple[object, ...]] = []
    for line, raw in enumerate(raw_rows, start=2):
        stripped = {name: (value.strip() or None) for name, value in zip(order, raw, strict=True)}
        if any(v is not None for v in stripped.values()):
            expected.append((*(stripped.get(name) for name in DUE_NAMES), line))
    return header_row, raw_rows, expected


def _csv_bytes(header: list[str], rows: list[list[str]], encoding: str) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([header, *rows])
    return out.getvalue().encode(encoding)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=_tables(_csv_cell))
def test_csv__round_trip_any_encoding(
    encoding: str, table: tuple[list[str], list[list[str]], list[tuple[object, ...]]]
) -> None:
    """A table saved as CSV in UTF-8, UTF-8 with BOM or GB18030 reads back stripped, lines true."""
    header, rows, expected = table
    frame = read_table(Path("t.csv"), DUE_COLUMNS, data=_csv_bytes(header, rows, encoding))
    assert frame.schema == pl.Schema(DUE_SCHEMA)
    assert frame.rows() == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=_tables(_cell))
def test_xlsx__round_trip_text_cells(
    table: tuple[list[str], list[list[str]], list[tuple[object, ...]]],
) -> None:
    """Any table written as XLSX text cells reads back stripped, with true sheet row numbers."""
    header, rows, expected = table
    frame = read_table(Path("t.xlsx"), DUE_COLUMNS, data=_xlsx([header, *rows]))
    assert frame.schema == pl.Schema(DUE_SCHEMA)
    assert frame.rows() == expected


# --- CSV: encodings --------------------------------------------------------------------------


def test_csv__chinese_headers_mixed_order_extra_column_ignored() -> None:
    """Chinese headers in any order, 备注 ignored, blank and empty rows dropped, lines kept."""
    frame = read_table(INPUTS / "due_utf8_chinese_headers.csv", DUE_COLUMNS)
    assert frame.schema == pl.Schema(DUE_SCHEMA)
    assert frame.rows() == [
        (PID_1, "张三", "西坞街道", None, "城乡居民", "2027", "380.00", 2),
        (PID_2, "李四", "尚田街道", "鸣雁村", "低保对象", "2027", "0", 5),
    ]


def test_csv__gb18030_with_four_byte_character_and_quoted_comma() -> None:
    """GB18030 decodes strictly, including a character outside GBK; quoting is standard CSV."""
    frame = read_table(INPUTS / "due_gb18030.csv", DUE_COLUMNS)
    assert frame.rows() == [
        (PID_1, "王\U0002a6a5", "岳林街道", "大庆社区,一组", "城乡居民", "2027", "380", 2),
        (PID_2, "欧阳·娜娜", "莼湖街道", None, "城乡居民", "2027", "540.50", 3),
    ]


def test_csv__utf8_bom_english_headers() -> None:
    """A UTF-8 byte-order mark is not part of the first header."""
    frame = read_table(INPUTS / "due_utf8_bom.csv", DUE_COLUMNS)
    assert frame.rows() == [(PID_1, "张三", "西坞街道", None, "城乡居民", "2027", "380.00", 2)]


def test_csv__utf8_that_also_decodes_as_gbk_is_read_as_utf8() -> None:
    """UTF-8 Chinese whose bytes are also valid GB18030 is read as UTF-8, not as mojibake."""
    raw = (INPUTS / "due_utf8_also_valid_gbk.csv").read_bytes()
    assert raw.decode("gb18030") != raw.decode("utf-8")  # the trap is armed
    frame = read_table(INPUTS / "due_utf8_also_valid_gbk.csv", DUE_COLUMNS)
    assert frame.rows() == [(PID_1, "张三", "西坞街道", None, "城乡居民", "2027", "380.00", 2)]


def test_csv__undecodable_refused_naming_byte_offset() -> None:
    """Bytes valid in neither UTF-8 nor GB18030 refuse the file, naming offset and line."""
    path = INPUTS / "due_undecodable.csv"
    offset = path.read_bytes().index(b"\xff")
    assert _refusal(path, DUE_COLUMNS) == (
        f"{path}: undecodable: the file is neither UTF-8 nor GB18030: "
        f"bytes ff 2c b4 f3 at byte offset {offset}, line 3"
    )


def test_csv__bom_then_invalid_utf8_refused() -> None:
    """A UTF-8 BOM commits the file to UTF-8: a GB18030 body after it is refused, not guessed."""
    data = b"\xef\xbb\xbfperson_id,name\n" + "张三".encode("gb18030")
    assert _refusal(Path("bom.csv"), DUE_COLUMNS, data) == (
        "bom.csv: undecodable: the file starts with a UTF-8 BOM but is not valid UTF-8: "
        "bytes d5 c5 c8 fd at byte offset 18, line 2"
    )


def test_csv__utf16_refused_with_hint() -> None:
    """UTF-16 text (Excel's "Unicode text") is refused with a hint to save it otherwise."""
    data = "person_id,name\n".encode("utf-16")
    assert _refusal(Path("u16.csv"), DUE_COLUMNS, data) == (
        "u16.csv: undecodable: the file is neither UTF-8 nor GB18030: bytes ff fe 70 00 at "
        "byte offset 0, line 1 (UTF-16 text is not supported; save as UTF-8 or GB18030)"
    )


@pytest.mark.parametrize(
    "name", ["due_gb18030.csv", "due_utf8_chinese_headers.csv", "due_utf8_also_valid_gbk.csv"]
)
def test_csv__decoding_in_chunks_never_splits_a_character(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of 3 bytes (cutting every multi-byte character somewhere) read like one chunk."""
    whole = read_table(INPUTS / name, DUE_COLUMNS)
    monkeypatch.setattr(tabular, "_CHUNK", 3)
    assert read_table(INPUTS / name, DUE_COLUMNS).rows() == whole.rows()


def test_csv__undecodable_offset_same_in_small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The refusal names the same byte offset however the decoding is chunked."""
    path = INPUTS / "due_undecodable.csv"
    whole = _refusal(path, DUE_COLUMNS)
    monkeypatch.setattr(tabular, "_CHUNK", 5)
    assert _refusal(path, DUE_COLUMNS) == whole


def test_csv__nul_byte_refused_as_binary() -> None:
    """A NUL byte means binary content, not a CSV."""
    assert _refusal(Path("bin.csv"), DUE_COLUMNS, b"person_id\x00name\n") == (
        "bin.csv: not a table: binary content (a NUL byte at byte offset 9)"
    )


def test_csv__legacy_xls_refused() -> None:
    """A legacy .xls workbook is refused with what to do about it."""
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64)
    assert _refusal(Path("old.xls"), DUE_COLUMNS, data) == (
        "old.xls: not a table: a legacy .xls workbook; save it as .xlsx or CSV"
    )


# --- CSV: shape ------------------------------------------------------------------------------


def test_csv__missing_required_column_refused_naming_it() -> None:
    """A missing required column refuses the file, naming it in both languages."""
    path = INPUTS / "due_missing_person_id.csv"
    assert (
        _refusal(path, DUE_COLUMNS) == f"{path}: missing required column person_id (公民身份号码)"
    )


def test_csv__several_missing_columns_all_named() -> None:
    """Every missing required column is named at once, in the order of the column list."""
    assert _refusal(Path("p.csv"), PAID_COLUMNS, b"person_id,amount\n1,2\n") == (
        "p.csv: missing required columns period (缴费年度), channel (缴费渠道), paid_at (缴费日期)"
    )


def test_csv__column_in_both_languages_refused() -> None:
    """person_id and 公民身份号码 in one header is ambiguous and refused."""
    path = INPUTS / "due_duplicate_person_id.csv"
    assert _refusal(path, DUE_COLUMNS) == (
        f"{path}: columns 1 ('person_id') and 3 ('公民身份号码') both hold person_id (公民身份号码)"
    )


def test_csv__english_header_any_case_and_padded() -> None:
    """English headers match in any letter case, after stripping white space."""
    data = b" PERSON_ID ,Name,TownShip,category,period,amount_due\n1,2,3,4,5,6\n"
    frame = read_table(Path("c.csv"), DUE_COLUMNS, data=data)
    assert frame.rows() == [("1", "2", "3", None, "4", "5", "6", 2)]


def test_csv__ragged_row_refused() -> None:
    """A row with more fields than the header is not a table."""
    path = INPUTS / "due_ragged_row.csv"
    assert _refusal(path, DUE_COLUMNS) == (
        f"{path}: not a table: a row has more fields than the header row"
    )


def test_csv__unclosed_quote_refused() -> None:
    """An unclosed double quote is not a table."""
    data = b'person_id,name,township,category,period,amount_due\n"1,2,3,4,5,6\n'
    assert _refusal(Path("q.csv"), DUE_COLUMNS, data) == (
        "q.csv: not a table: cannot parse it as CSV (a stray or unclosed double quote?)"
    )


def test_csv__short_row_reads_missing_cells_as_null() -> None:
    """A row with fewer fields than the header reads its missing cells as null."""
    data = b"person_id,name,township,category,period,amount_due\n1,2\n"
    frame = read_table(Path("s.csv"), DUE_COLUMNS, data=data)
    assert frame.rows() == [("1", "2", None, None, None, None, None, 2)]


def test_csv__quoted_line_break_counts_as_one_row() -> None:
    """source_line counts rows (records): a quoted line break does not shift later rows."""
    data = (
        b"person_id,name,township,category,period,amount_due\r\n"
        b'1,"a\r\nb",3,4,5,6\r\n'
        b"7,8,9,10,11,12\r\n"
    )
    frame = read_table(Path("n.csv"), DUE_COLUMNS, data=data)
    assert frame.rows() == [
        ("1", "a\r\nb", "3", None, "4", "5", "6", 2),
        ("7", "8", "9", None, "10", "11", "12", 3),
    ]


def test_csv__header_only_is_an_empty_frame() -> None:
    """A header without rows is an empty frame of the right columns and types."""
    frame = read_table(INPUTS / "due_header_only.csv", DUE_COLUMNS)
    assert frame.schema == pl.Schema(DUE_SCHEMA)
    assert frame.height == 0


def test_csv__empty_file_refused() -> None:
    """A file of zero bytes has no header and is refused."""
    path = INPUTS / "due_empty.csv"
    assert _refusal(path, DUE_COLUMNS) == f"{path}: empty file: no header row"


def test_read_table__given_bytes_path_not_read() -> None:
    """With data given, the path is only a name: it need not exist."""
    data = (INPUTS / "registry_utf8.csv").read_bytes()
    frame = read_table(Path("/nonexistent/registry.csv"), REGISTRY_COLUMNS, data=data)
    assert frame.rows() == [
        (PID_1, "张三", "A12345678", "NBCB", "6222021234567890128", "正常", "正常", "是", 2)
    ]


def test_read_table__unreadable_path_refused() -> None:
    """A path that cannot be read is refused, not a crash."""
    assert _refusal(Path("/nonexistent/due.csv"), DUE_COLUMNS) == (
        "/nonexistent/due.csv: cannot read file: No such file or directory"
    )


# --- XLSX ------------------------------------------------------------------------------------


def test_xlsx__text_cells_stripped_blank_row_dropped() -> None:
    """Text cells are stripped; the blank sheet row 3 is dropped and row 4 stays row 4."""
    frame = read_table(INPUTS / "due_strings.xlsx", DUE_COLUMNS)
    assert frame.rows() == [
        (PID_1, "张三", "西坞街道", None, "城乡居民", "2027", "380.00", 2),
        (PID_2, "李四", "尚田街道", None, "城乡居民", "2027", "0", 4),
    ]


def test_xlsx__numeric_ids_refused() -> None:
    """A person_id stored as a number refuses the workbook, naming the first such row."""
    path = INPUTS / "due_numeric_ids.xlsx"
    assert _refusal(path, DUE_COLUMNS) == (
        f"{path}: line 3: column person_id holds numbers in XLSX (digits may be lost); "
        "store it as text"
    )


def test_xlsx__numeric_card_no_refused() -> None:
    """Every text_only column is guarded: a numeric card_no refuses a registry workbook."""
    header = [c.name for c in REGISTRY_COLUMNS]
    row = [PID_1, "张三", 12345678, "NBCB", "6222021234567890128", "正常", "正常", "是"]
    assert _refusal(Path("r.xlsx"), REGISTRY_COLUMNS, _xlsx([header, row])) == (
        "r.xlsx: line 2: column card_no holds numbers in XLSX (digits may be lost); "
        "store it as text"
    )


def test_xlsx__numeric_amounts_whole_fen_become_yuan_text() -> None:
    """540.1 → "540.10", 380 → "380.00"; 540.001 and -5.1 keep a text the amount rule rejects."""
    frame = read_table(INPUTS / "due_numeric_amounts.xlsx", DUE_COLUMNS)
    assert frame.get_column("amount_due").to_list() == [
        "540.10",
        "540.001",
        "380.00",
        "0.29",
        "-5.1",
        "540.1",
        "0.00",
    ]
    assert frame.get_column("period").to_list() == ["2027"] * 7  # a number as natural text
    assert frame.get_column("source_line").to_list() == [2, 3, 4, 5, 6, 7, 8]
    passes = [bool(re.match(AMOUNT_PATTERN, a)) for a in frame.get_column("amount_due")]
    assert passes == [True, False, True, True, False, True, True]


def test_xlsx__date_cells_become_iso_dates() -> None:
    """Date cells read as YYYY-MM-DD (the time of day dropped); a date typed as text is kept."""
    frame = read_table(INPUTS / "paid_date_cells.xlsx", PAID_COLUMNS)
    assert frame.rows() == [
        (PID_1, "2027", "380.00", "APP", "2026-11-03", 2),
        (PID_2, "2027", "380.00", "BANK", "2026-11-04", 3),
        (PID_3, "2027", "380.00", "COUNTER", "2026-11-05 00:00:00", 4),
    ]


def test_xlsx__header_must_be_row_1() -> None:
    """A title row above the header is not skipped: the header is row 1."""
    path = INPUTS / "due_title_row_above_header.xlsx"
    assert _refusal(path, DUE_COLUMNS).startswith(
        f"{path}: missing required columns person_id (公民身份号码), name (姓名)"
    )


def test_xlsx__header_only_is_an_empty_frame() -> None:
    """A workbook with only the header row is an empty frame."""
    frame = read_table(Path("h.xlsx"), DUE_COLUMNS, data=_xlsx([DUE_NAMES]))
    assert frame.schema == pl.Schema(DUE_SCHEMA)
    assert frame.height == 0


def test_xlsx__empty_sheet_refused() -> None:
    """A workbook whose first sheet is empty has no header and is refused."""
    assert _refusal(Path("e.xlsx"), DUE_COLUMNS, _xlsx([])) == "e.xlsx: empty file: no header row"


def test_xlsx__zip_that_is_not_a_workbook_refused() -> None:
    """A ZIP archive that is not a workbook is not a table."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    message = _refusal(Path("z.xlsx"), DUE_COLUMNS, buffer.getvalue())
    assert message.startswith("z.xlsx: not a table: cannot read it as XLSX (")


# --- sniffing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("due_utf8_chinese_headers.csv", "due"),
        ("due_gb18030.csv", "due"),
        ("due_utf8_bom.csv", "due"),
        ("due_header_only.csv", "due"),
        ("due_missing_person_id.csv", "due"),
        ("due_strings.xlsx", "due"),
        ("due_numeric_ids.xlsx", "due"),
        ("registry_utf8.csv", "registry"),
        ("registry_missing_authorized.csv", "registry"),
        ("paid_gb18030.csv", "paid"),
        ("paid_date_cells.xlsx", "paid"),
        ("result_pipe_not_tabular.ret", None),
        ("due_empty.csv", None),
        ("due_title_row_above_header.xlsx", None),
    ],
)
def test_sniff__kind_told_by_header(name: str, kind: str | None) -> None:
    """Each fixture is recognised by its header alone, whatever its encoding or format."""
    assert sniff_table_kind(INPUTS / name) == kind


def test_sniff__due_list_with_account_columns_is_due() -> None:
    """A complete due list wins over the markers of another kind among its extra columns."""
    data = "公民身份号码,姓名,镇街,参保类别,缴费年度,应缴金额,金融账号\n".encode()
    assert sniff_table_kind(Path("d.csv"), data=data) == "due"


def test_sniff__ambiguous_or_unrelated_header_is_none() -> None:
    """Markers of two kinds and no complete one, or none at all, give None."""
    assert sniff_table_kind(Path("a.csv"), data=b"person_id,amount_due,account_no\n") is None
    assert sniff_table_kind(Path("b.csv"), data=b"id,value\n1,2\n") is None


def test_sniff__bad_content_is_none_not_an_error() -> None:
    """Undecodable, binary, broken-ZIP and unreadable inputs sniff as None without raising."""
    assert sniff_table_kind(Path("u.csv"), data=b"\xff\xfe\xfd,\x80\n") is None
    assert sniff_table_kind(Path("n.csv"), data=b"a\x00b") is None
    assert sniff_table_kind(Path("z.xlsx"), data=b"PK\x03\x04broken") is None
    assert sniff_table_kind(Path("/nonexistent/x.csv")) is None
