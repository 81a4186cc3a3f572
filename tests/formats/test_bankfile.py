"""Bank request and result files (formats/bankfile.py): golden bytes, exact byte widths, the
refusal problems of SPEC §5, round trips and fuzzing of the readers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from premium_debit.errors import InternalError
from premium_debit.formats.bankfile import (
    ParsedFile,
    Problem,
    RequestHeader,
    ResultHeader,
    parse_request,
    parse_result,
    render_request,
    render_result,
)
from premium_debit.formats.layout import load_layout

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "fixtures" / "bankfiles"
RESULTS = REPO / "fixtures" / "results"
LAYOUTS = {"pipe": load_layout("pipe", REPO), "fixed": load_layout("fixed", REPO)}
SUCCESS = {"pipe": frozenset({"0000"}), "fixed": frozenset({"00"})}

BATCH, BANK = "2027NBCB2026112901", "NBCB"
REQ_HEADER = RequestHeader(BATCH, BANK, 2027, date(2026, 11, 29))
RES_HEADER = ResultHeader(BATCH, BANK, date(2026, 12, 2))
REQ_NAME, RET_NAME = f"{BANK}_{BATCH}.req", f"{BANK}_{BATCH}.ret"

REQUEST_SCHEMA: dict[str, type[pl.DataType]] = {
    "seq": pl.Int64,
    "instruction_id": pl.String,
    "account_no": pl.String,
    "name": pl.String,
    "amount_fen": pl.Int64,
    "person_id": pl.String,
}
RESULT_SCHEMA: dict[str, type[pl.DataType]] = {
    "seq": pl.Int64,
    "instruction_id": pl.String,
    "account_no": pl.String,
    "amount_fen": pl.Int64,
    "debited_fen": pl.Int64,
    "code": pl.String,
    "message": pl.String,
    "bank_ref": pl.String,
}

# 𠮷 (U+20BB7) is 4 bytes in GB18030; the last name is exactly the fixed field's 40 bytes.
NAMES_GB18030 = ["张三", "𠮷田", "欧阳·娜娜", "古丽米热·阿卜杜热合曼·买买提江艾力𠮷"]
# 亅 is 0x81 0x7C in GBK: its trail byte is the "|" of the pipe format.
NAMES_GBK = ["亅倈", "張三", "欧阳·娜娜", "李四"]
ACCOUNTS = ["6228480012345678901", "6228480087654321", "6228480012345678919", "6217000012345678"]
PERSONS = ["330283199001010016", "33028319851231002X", "330283201006150034", "330283195003030018"]
AMOUNTS = [54000, 54000, 38000, 38050]


def _request(names: Sequence[str]) -> pl.DataFrame:
    n = len(names)
    return pl.DataFrame(
        {
            "seq": list(range(1, n + 1)),
            "instruction_id": [f"{BATCH}{i:06d}" for i in range(1, n + 1)],
            "account_no": ACCOUNTS[:n],
            "name": list(names),
            "amount_fen": AMOUNTS[:n],
            "person_id": PERSONS[:n],
        },
        schema=REQUEST_SCHEMA,
    )


def _result(fmt: str) -> pl.DataFrame:
    codes = ["0000", "1001", "0000", "9999"] if fmt == "pipe" else ["00", "51", "00", "96"]
    return pl.DataFrame(
        {
            "seq": [1, 2, 3, 4],
            "instruction_id": [f"{BATCH}{i:06d}" for i in range(1, 5)],
            "account_no": ACCOUNTS,
            "amount_fen": AMOUNTS,
            "debited_fen": [54000, 0, 38000, 0],
            "code": codes,
            "message": ["扣款成功", "余额不足", "扣款成功", ""],
            "bank_ref": [f"NB20261202{i:06d}" for i in range(1, 5)],
        },
        schema=RESULT_SCHEMA,
    )


def _lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\r\n")
    return data[:-2].split(b"\r\n")


def _problems(parsed: ParsedFile) -> list[str]:
    return [str(p) for p in parsed.problems]


# --- golden files ----------------------------------------------------------------------------


def _render_golden(name: str) -> tuple[bytes, ParsedFile, pl.DataFrame]:
    """The bytes of golden ``name``, the parse of those bytes and the records they came from."""
    fmt, kind, variant = name.removesuffix(".req").removesuffix(".ret").split("_")
    layout = LAYOUTS[fmt]
    encoding = "gbk" if variant == "gbk" else "gb18030"
    if kind == "request":
        frame = _request(NAMES_GBK if variant == "gbk" else NAMES_GB18030)
        data = render_request(layout, encoding, REQ_HEADER, frame)
        return data, parse_request(layout, encoding, data, REQ_NAME), frame
    frame = _result(fmt)
    data = render_result(layout, encoding, RES_HEADER, frame, SUCCESS[fmt])
    return data, parse_result(layout, encoding, data, RET_NAME, SUCCESS[fmt]), frame


@pytest.mark.parametrize(
    "name",
    [
        "pipe_request_basic.req",
        "fixed_request_basic.req",
        "pipe_request_gbk.req",
        "fixed_request_gbk.req",
        "pipe_result_basic.ret",
        "fixed_result_basic.ret",
    ],
)
def test_golden__render_matches_bytes(name: str, update_goldens: bool) -> None:
    """Rendering the fixed sample gives the golden file byte for byte, and it reads back whole."""
    data, parsed, frame = _render_golden(name)
    path = GOLDEN / name
    if update_goldens:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    assert path.exists(), f"{path} is missing: run pytest --update-goldens"
    assert data == path.read_bytes()
    assert parsed.problems == []
    assert_frame_equal(parsed.details.drop("line"), frame)


def test_golden__pipe_request_lines() -> None:
    """The pipe request is SPEC §4.1 to the character: yuan amounts, plain seq, CRLF."""
    data, _, _ = _render_golden("pipe_request_basic.req")
    assert data.decode("gb18030").split("\r\n") == [
        "H|2027NBCB2026112901|NBCB|2027|4|1840.50|20261129",
        "D|1|2027NBCB2026112901000001|6228480012345678901|张三|540.00|330283199001010016",
        "D|2|2027NBCB2026112901000002|6228480087654321|𠮷田|540.00|33028319851231002X",
        "D|3|2027NBCB2026112901000003|6228480012345678919|欧阳·娜娜|380.00|330283201006150034",
        "D|4|2027NBCB2026112901000004|6217000012345678|古丽米热·阿卜杜热合曼·买买提江艾力𠮷"
        "|380.50|330283195003030018",
        "T|4|1840.50",
        "",
    ]


def test_golden__pipe_result_success_figures() -> None:
    """The result header counts the success lines and sums what they debited."""
    data, parsed, _ = _render_golden("pipe_result_basic.ret")
    assert _lines(data)[0] == b"H|2027NBCB2026112901|NBCB|4|1840.50|2|920.00|20261202"
    assert parsed.header == {
        "batch_id": BATCH,
        "bank_code": BANK,
        "count": 4,
        "total_fen": 184050,
        "success_count": 2,
        "success_fen": 92000,
        "processed": date(2026, 12, 2),
    }
    assert parsed.trailer == {"count": 4, "total_fen": 184050}


# --- byte widths -----------------------------------------------------------------------------


def test_fixed__cjk_name_padded_by_bytes() -> None:
    """张三 is 4 bytes of GB18030, so 36 spaces pad the 40-byte name field; the record is 130."""
    data = render_request(LAYOUTS["fixed"], "gb18030", REQ_HEADER, _request(["张三"]))
    detail = _lines(data)[1]
    assert detail == (
        b"D0000000001"
        + b"2027NBCB2026112901000001      "
        + b"6228480012345678901"
        + "张三".encode("gb18030")
        + b" " * 36
        + b"000000054000"
        + b"330283199001010016"
    )
    assert [len(line) for line in _lines(data)] == [130, 130, 130]


def test_fixed__header_and_trailer_bytes() -> None:
    """Numbers are zero-padded to their widths and the records padded with spaces to 130."""
    data = render_request(LAYOUTS["fixed"], "gb18030", REQ_HEADER, _request(["张三"]))
    header, _, trailer = _lines(data)
    assert header == b"H2027NBCB2026112901  NBCB20270000000001000000000054000" + b"20261129" + (
        b" " * 68
    )
    assert trailer == b"T0000000001000000000054000" + b" " * 104


def test_fixed__four_byte_name_fills_field_exactly() -> None:
    """A 40-byte name ending in 𠮷 fills the field with no padding and reads back whole."""
    name = NAMES_GB18030[3]
    assert len(name.encode("gb18030")) == 40
    data = render_request(LAYOUTS["fixed"], "gb18030", REQ_HEADER, _request([name]))
    assert _lines(data)[1][60:100] == name.encode("gb18030")
    parsed = parse_request(LAYOUTS["fixed"], "gb18030", data, REQ_NAME)
    assert parsed.details["name"].to_list() == [name]


def test_fixed__gbk_name_width_counts_gbk_bytes() -> None:
    """In a GBK bank's file 欧阳·娜娜 is 10 bytes (· is 2), padded with 30 spaces."""
    data = render_request(LAYOUTS["fixed"], "gbk", REQ_HEADER, _request(["欧阳·娜娜"]))
    assert _lines(data)[1][60:100] == "欧阳·娜娜".encode("gbk") + b" " * 30


def test_fixed__name_over_width_is_a_bug() -> None:
    """A 41-byte name never reaches a file: the build rejects it, the writer refuses it."""
    frame = _request(["张三", NAMES_GB18030[3] + "a"])
    with pytest.raises(InternalError) as info:
        render_request(LAYOUTS["fixed"], "gb18030", REQ_HEADER, frame)
    assert str(info.value) == (
        "request detail record 2, field name: the text is longer than 40 bytes in the bank's"
        " encoding"
    )


def test_fixed__unencodable_name_is_a_bug() -> None:
    """A name GBK cannot write (𠮷) is refused by the fixed writer, never replaced."""
    with pytest.raises(InternalError) as info:
        render_request(LAYOUTS["fixed"], "gbk", REQ_HEADER, _request(["张三", "𠮷田"]))
    assert str(info.value) == (
        "request detail record 2, field name: the text cannot be written in the bank's encoding"
    )


def test_pipe__unencodable_name_is_a_bug() -> None:
    """The pipe writer's strict encode names the line of a character GBK cannot write."""
    with pytest.raises(InternalError) as info:
        render_request(LAYOUTS["pipe"], "gbk", REQ_HEADER, _request(["张三", "𠮷田"]))
    assert str(info.value) == (
        "request file, line 3: '𠮷' cannot be written in gbk (the build should have rejected it)"
    )


def test_pipe__delimiter_in_text_is_a_bug() -> None:
    """A "|" inside a pipe field would shift every later field; the writer refuses it."""
    with pytest.raises(InternalError) as info:
        render_request(LAYOUTS["pipe"], "gb18030", REQ_HEADER, _request(["张|三"]))
    assert str(info.value) == (
        "request detail record 1, field name: the text holds the delimiter '|' or a line end"
    )


def test_render__negative_amount_is_a_bug() -> None:
    """A negative amount is refused, not written as "-1.00"."""
    frame = _request(["张三"]).with_columns(amount_fen=pl.lit(-100, pl.Int64))
    with pytest.raises(InternalError, match="field amount_fen: the value is negative"):
        render_request(LAYOUTS["pipe"], "gb18030", REQ_HEADER, frame)


def test_render__missing_column_is_a_bug() -> None:
    """Details without a layout field's column are refused before anything is written."""
    with pytest.raises(InternalError, match=r"detail records lack the column\(s\) person_id"):
        render_request(LAYOUTS["pipe"], "gb18030", REQ_HEADER, _request(["张三"]).drop("person_id"))


def test_render__empty_batch() -> None:
    """A batch of no records is a header and a trailer with zero figures, and reads back sound."""
    data = render_request(LAYOUTS["pipe"], "gb18030", REQ_HEADER, _request([]))
    assert data == b"H|2027NBCB2026112901|NBCB|2027|0|0.00|20261129\r\nT|0|0.00\r\n"
    parsed = parse_request(LAYOUTS["pipe"], "gb18030", data, REQ_NAME)
    assert parsed.problems == []
    assert parsed.details.height == 0


@pytest.mark.parametrize("fmt", ["pipe", "fixed"])
def test_render__every_line_ends_crlf(fmt: str) -> None:
    """Every line ends in CRLF, the last one too, and no LF stands alone."""
    data = render_request(LAYOUTS[fmt], "gb18030", REQ_HEADER, _request(NAMES_GB18030))
    assert data.endswith(b"\r\n")
    assert data.count(b"\n") == data.count(b"\r\n") == 6


# --- faults planted by the bank simulator ------------------------------------------------------


def test_render_result__overrides_plant_faults() -> None:
    """Overrides replace the computed figures, and the reader reports exactly those faults."""
    data = render_result(
        LAYOUTS["pipe"],
        "gb18030",
        RES_HEADER,
        _result("pipe"),
        SUCCESS["pipe"],
        overrides={"header.count": 7, "trailer.total_fen": 1},
    )
    lines = _lines(data)
    assert lines[0] == b"H|2027NBCB2026112901|NBCB|7|1840.50|2|920.00|20261202"
    assert lines[-1] == b"T|4|0.01"
    parsed = parse_result(LAYOUTS["pipe"], "gb18030", data, RET_NAME, SUCCESS["pipe"])
    assert _problems(parsed) == [
        "line 1, field count: header count 7 disagrees with the 4 detail lines",
        "line 6, field total_fen: trailer total 0.01 disagrees with the detail amounts, which"
        " add up to 1840.50",
    ]


def test_render_result__text_override_written_verbatim() -> None:
    """A str override is the field's exact text, unpadded: here a fixed trailer 3 bytes short."""
    data = render_result(
        LAYOUTS["fixed"],
        "gb18030",
        RES_HEADER,
        _result("fixed"),
        SUCCESS["fixed"],
        overrides={"trailer.count": "0000004"},
    )
    assert _lines(data)[-1] == b"T0000004000000000184050" + b" " * 124
    parsed = parse_result(LAYOUTS["fixed"], "gb18030", data, RET_NAME, SUCCESS["fixed"])
    assert _problems(parsed) == ["line 6: trailer record is 147 bytes long, expected 150"]


def test_render_result__unknown_override_is_a_bug() -> None:
    """An override naming no header or trailer field is refused rather than ignored."""
    with pytest.raises(InternalError, match=r"override 'header\.colour': no such header"):
        render_result(
            LAYOUTS["pipe"],
            "gb18030",
            RES_HEADER,
            _result("pipe"),
            SUCCESS["pipe"],
            overrides={"header.colour": 1},
        )


# --- reading: what is accepted -----------------------------------------------------------------


def test_parse__lf_line_ends_accepted() -> None:
    """A file with LF line ends reads exactly like its CRLF original."""
    data, crlf, _ = _render_golden("fixed_request_basic.req")
    parsed = parse_request(LAYOUTS["fixed"], "gb18030", data.replace(b"\r\n", b"\n"), REQ_NAME)
    assert parsed.problems == []
    assert_frame_equal(parsed.details, crlf.details)


def test_parse__missing_final_line_end_accepted() -> None:
    """A last line without its line end is still the trailer."""
    data, crlf, _ = _render_golden("pipe_request_basic.req")
    parsed = parse_request(LAYOUTS["pipe"], "gb18030", data[:-2], REQ_NAME)
    assert parsed.problems == []
    assert parsed.trailer == crlf.trailer


def test_pipe__gbk_trail_byte_0x7c_is_not_a_delimiter() -> None:
    """亅 is 0x81 0x7C in GBK: the file is decoded before it is split, so the name stays whole."""
    data, parsed, _ = _render_golden("pipe_request_gbk.req")
    assert b"|\x81|\x82|" in data  # 亅倈: a raw split would see two more fields
    assert parsed.problems == []
    assert parsed.details["name"].to_list() == NAMES_GBK


def test_parse__file_name_may_carry_a_folder() -> None:
    """Only the base name of the path is compared with the header."""
    data, _, _ = _render_golden("pipe_result_basic.ret")
    parsed = parse_result(
        LAYOUTS["pipe"], "gb18030", data, f"/var/inbox/{RET_NAME}", SUCCESS["pipe"]
    )
    assert parsed.problems == []


def test_parse__details_carry_physical_lines() -> None:
    """Detail rows carry their 1-based line in the file, header being line 1."""
    _, parsed, _ = _render_golden("fixed_result_basic.ret")
    assert parsed.details["line"].to_list() == [2, 3, 4, 5]
    assert parsed.details.schema == pl.Schema({"line": pl.Int64, **RESULT_SCHEMA})


# --- reading: what is refused ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "fmt", "file_name", "expected"),
    [
        (
            "header_count_mismatch.ret",
            "pipe",
            RET_NAME,
            "line 1, field count: header count 4 disagrees with the 3 detail lines",
        ),
        (
            "trailer_total_mismatch.ret",
            "pipe",
            RET_NAME,
            "line 5, field total_fen: trailer total 1460.01 disagrees with the detail amounts,"
            " which add up to 1460.00",
        ),
        (
            "success_total_mismatch.ret",
            "fixed",
            RET_NAME,
            "line 1, field success_fen: header success total 540.00 disagrees with the amounts"
            " debited on the lines whose code means success, which add up to 920.00",
        ),
        (
            "bad_record_length.ret",
            "fixed",
            RET_NAME,
            "line 3: detail record is 149 bytes long, expected 150",
        ),
        (
            "wrong_field_count.ret",
            "pipe",
            RET_NAME,
            "line 3: detail record has 10 fields, expected 9",
        ),
        (
            "truncated.ret",
            "pipe",
            RET_NAME,
            "the file ends without the trailer record 'T' (truncated?)",
        ),
        (
            "undecodable.ret",
            "pipe",
            RET_NAME,
            "line 3: cannot be decoded as gb18030: byte 0xFF at byte 68 of the line",
        ),
        (
            "file_name_disagrees.ret",
            "pipe",
            f"{BANK}_2027NBCB2026112902.ret",
            "the file name 'NBCB_2027NBCB2026112902.ret' disagrees with its header, which names"
            " batch '2027NBCB2026112901' of bank 'NBCB': expected 'NBCB_2027NBCB2026112901.ret'",
        ),
    ],
)
def test_refusal__fixture_has_exactly_its_problem(
    fixture: str, fmt: str, file_name: str, expected: str
) -> None:
    """Each refusal fixture reads with exactly the one problem it is named after."""
    data = (RESULTS / fixture).read_bytes()
    parsed = parse_result(LAYOUTS[fmt], "gb18030", data, file_name, SUCCESS[fmt])
    assert _problems(parsed) == [expected]


def test_parse__empty_file() -> None:
    """An empty file is one problem and no records."""
    parsed = parse_result(LAYOUTS["pipe"], "gb18030", b"", RET_NAME, SUCCESS["pipe"])
    assert parsed.problems == [Problem(None, None, "the file is empty")]
    assert parsed.details.height == 0
    assert parsed.header["batch_id"] is None


def test_parse__every_problem_reported_with_its_line() -> None:
    """All bad fields of the file are reported, in line order, not just the first."""
    data, _, _ = _render_golden("pipe_request_basic.req")
    text = data.decode("gb18030")
    text = text.replace("|540.00|3302831990", "|540|3302831990", 1)  # line 2
    text = text.replace("D|3|", "D|3a|", 1)
    text = text.replace("|380.50|", "|380.5O|", 1)  # letter O, line 5
    parsed = parse_request(LAYOUTS["pipe"], "gb18030", text.encode("gb18030"), REQ_NAME)
    assert _problems(parsed) == [
        "line 2, field amount_fen: not an amount in yuan with 2 decimals: '540'",
        "line 4, field seq: not a whole number: '3a'",
        "line 5, field amount_fen: not an amount in yuan with 2 decimals: '380.5O'",
    ]
    assert parsed.details["amount_fen"].to_list() == [None, 54000, 38000, None]


def test_parse__record_order_and_types() -> None:
    """Unknown tags, empty lines and records out of H, D…, T order are each a problem."""
    data = (
        b"D|1|X|1|n|1.00|p\r\n"
        b"H|2027NBCB2026112901|NBCB|2027|1|1.00|20261129\r\n"
        b"\r\n"
        b"T|1|1.00\r\n"
        b"X|what\r\n"
    )
    parsed = parse_request(LAYOUTS["pipe"], "gb18030", data, REQ_NAME)
    assert _problems(parsed) == [
        "the file ends without the trailer record 'T' (truncated?)",
        "line 1: the file must start with the header record 'H'",
        "line 2: a second header record",
        "line 3: empty line",
        "line 4: trailer record before the last line",
        "line 5: unknown record type: 'X'",
    ]


def test_fixed__padding_must_be_spaces() -> None:
    """Bytes after the last field of a fixed record are padding and must be spaces."""
    data, _, _ = _render_golden("fixed_request_basic.req")
    lines = _lines(data)
    lines[0] = lines[0][:-1] + b"X"
    bad = b"".join(line + b"\r\n" for line in lines)
    parsed = parse_request(LAYOUTS["fixed"], "gb18030", bad, REQ_NAME)
    assert _problems(parsed) == ["line 1: bytes 63–130 must be spaces: '" + " " * 40 + "…'"]


def test_fixed__undecodable_name_reported_and_read_on() -> None:
    """Bytes that are not GB18030 refuse the file, and the other fields still read."""
    data, _, _ = _render_golden("fixed_request_basic.req")
    bad = data.replace("张三".encode("gb18030"), b"\xff\xfe\xfd\xfc")
    parsed = parse_request(LAYOUTS["fixed"], "gb18030", bad, REQ_NAME)
    assert _problems(parsed) == [
        "line 2: cannot be decoded as gb18030: byte 0xFF at byte 61 of the line"
    ]
    assert parsed.details["instruction_id"][0] == f"{BATCH}000001"


def test_fixed__character_cut_by_field_edge() -> None:
    """A 4-byte character written across the name's last bytes and the amount is reported."""
    data, _, _ = _render_golden("fixed_request_basic.req")
    lines = _lines(data)
    line = lines[2]  # 𠮷田 + padding, then the amount
    lines[2] = line[:98] + "𠮷".encode("gb18030") + line[102:]
    bad = b"".join(x + b"\r\n" for x in lines)
    parsed = parse_request(LAYOUTS["fixed"], "gb18030", bad, REQ_NAME)
    assert [(p.line, p.field) for p in parsed.problems] == [(3, "name"), (3, "amount_fen")]
    assert str(parsed.problems[0]) == (
        "line 3, field name: cannot be decoded as gb18030 on its own (a character is cut by the"
        " field's edge)"
    )


def test_parse__request_name_needs_req_extension() -> None:
    """A request file named .ret disagrees with what the header says it is."""
    data, _, _ = _render_golden("pipe_request_basic.req")
    parsed = parse_request(LAYOUTS["pipe"], "gb18030", data, RET_NAME)
    assert _problems(parsed) == [
        f"the file name '{RET_NAME}' disagrees with its header, which names batch '{BATCH}' of"
        f" bank '{BANK}': expected '{REQ_NAME}'"
    ]


def test_parse__problem_list_capped() -> None:
    """A file broken on 1500 lines lists the first 1000 of those problems and counts the rest."""
    header, trailer = _lines(render_request(LAYOUTS["fixed"], "gb18030", REQ_HEADER, _request([])))
    data = header + b"\r\n" + b"D\r\n" * 1500 + trailer + b"\r\n"
    parsed = parse_request(LAYOUTS["fixed"], "gb18030", data, REQ_NAME)
    assert len(parsed.problems) == 1003
    assert _problems(parsed)[:2] == [
        "line 1, field count: header count 0 disagrees with the 1500 detail lines",
        "line 2: detail record is 1 bytes long, expected 130",
    ]
    assert _problems(parsed)[-3:] == [
        "line 1001: detail record is 1 bytes long, expected 130",
        "line 1502, field count: trailer count 0 disagrees with the 1500 detail lines",
        "… and 500 more problems not listed",
    ]


# --- a bank format by configuration only -------------------------------------------------------

_CUSTOM = """
name = "semicolon-fen"
kind = "delimited"
delimiter = ";"
amount_unit = "fen"

[request]
header = [
    { name = "record_type", type = "tag", value = "HDR" },
    { name = "bank_code", type = "text" },
    { name = "batch_id", type = "text" },
    { name = "count", type = "int" },
]
detail = [
    { name = "record_type", type = "tag", value = "DTL" },
    { name = "instruction_id", type = "text" },
    { name = "amount_fen", type = "amount" },
    { name = "account_no", type = "text" },
    { name = "name", type = "text" },
]
trailer = [{ name = "record_type", type = "tag", value = "END" }]

[result]
header = [
    { name = "record_type", type = "tag", value = "HDR" },
    { name = "batch_id", type = "text" },
    { name = "bank_code", type = "text" },
]
detail = [
    { name = "record_type", type = "tag", value = "DTL" },
    { name = "instruction_id", type = "text" },
    { name = "account_no", type = "text" },
    { name = "amount_fen", type = "amount" },
    { name = "debited_fen", type = "amount" },
    { name = "code", type = "text" },
]
trailer = [{ name = "record_type", type = "tag", value = "END" }, { name = "count", type = "int" }]

[codes]
"S" = "SUCCEEDED"
"F" = "INSUFFICIENT_FUNDS"
"""


def test_custom_layout__new_bank_format_by_configuration(tmp_path: Path) -> None:
    """A TOML description alone gives a working format: its order, tags, delimiter and unit."""
    (tmp_path / "bank.toml").write_text(_CUSTOM, encoding="utf-8")
    layout = load_layout("bank.toml", tmp_path)
    data = render_request(layout, "gb18030", REQ_HEADER, _request(["张三", "李四"]))
    assert data.decode("gb18030") == (
        "HDR;NBCB;2027NBCB2026112901;2\r\n"
        "DTL;2027NBCB2026112901000001;54000;6228480012345678901;张三\r\n"
        "DTL;2027NBCB2026112901000002;54000;6228480087654321;李四\r\n"
        "END\r\n"
    )
    parsed = parse_request(layout, "gb18030", data, REQ_NAME)
    assert parsed.problems == []
    assert parsed.details.drop("line").to_dicts()[1] == {
        "seq": None,
        "instruction_id": f"{BATCH}000002",
        "account_no": "6228480087654321",
        "name": "李四",
        "amount_fen": 54000,
        "person_id": None,
    }
    assert parsed.header == {
        "batch_id": BATCH,
        "bank_code": BANK,
        "period": None,
        "count": 2,
        "total_fen": None,
        "created": None,
    }


# --- round trips -------------------------------------------------------------------------------

_CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
_CHARS = {
    "gb18030": st.one_of(
        _CJK,
        st.characters(min_codepoint=0x3400, max_codepoint=0x4DB5),  # 㐀…, 4 bytes
        st.characters(min_codepoint=0x20000, max_codepoint=0x2A6D6),  # 𠮷…, 4 bytes
        st.sampled_from("·ABCxyz 09€"),
    ),
    "gbk": st.one_of(_CJK, st.sampled_from("·ABCxyz 09亅倈億")),
}


@st.composite
def _text(draw: st.DrawFn, encoding: str, width: int, *, min_size: int = 0) -> str:
    """Text that fits ``width`` bytes of ``encoding`` and has no padding to lose."""
    text = draw(st.text(_CHARS[encoding], min_size=min_size, max_size=width // 2)).strip()
    while len(text.encode(encoding)) > width:
        text = text[:-1].strip()
    return text or ("张" if min_size else "")


_ACCOUNT = st.integers(10**15, 10**19 - 1).map(str)  # 16 to 19 digits
_PERSON = st.tuples(st.integers(10**16, 10**17 - 1), st.sampled_from("0123456789X")).map(
    lambda t: f"{t[0]}{t[1]}"
)
_REF = st.text("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", max_size=24)


@st.composite
def _requests(draw: st.DrawFn, encoding: str) -> pl.DataFrame:
    n = draw(st.integers(0, 6))
    rows = {
        "seq": list(range(1, n + 1)),
        "instruction_id": [f"{BATCH}{i:06d}" for i in range(1, n + 1)],
        "account_no": draw(st.lists(_ACCOUNT, min_size=n, max_size=n)),
        "name": draw(st.lists(_text(encoding, 40, min_size=1), min_size=n, max_size=n)),
        "amount_fen": draw(st.lists(st.integers(0, 999_999_999_999), min_size=n, max_size=n)),
        "person_id": draw(st.lists(_PERSON, min_size=n, max_size=n)),
    }
    return pl.DataFrame(rows, schema=REQUEST_SCHEMA)


@st.composite
def _results(draw: st.DrawFn, fmt: str, encoding: str) -> pl.DataFrame:
    n = draw(st.integers(0, 6))
    amounts = st.integers(0, 999_999_999_999)
    codes = sorted(LAYOUTS[fmt].codes) + (["7777"] if fmt == "pipe" else ["77"])
    rows = {
        "seq": list(range(1, n + 1)),
        "instruction_id": [f"{BATCH}{i:06d}" for i in range(1, n + 1)],
        "account_no": draw(st.lists(_ACCOUNT, min_size=n, max_size=n)),
        "amount_fen": draw(st.lists(amounts, min_size=n, max_size=n)),
        "debited_fen": draw(st.lists(amounts, min_size=n, max_size=n)),
        "code": draw(st.lists(st.sampled_from(codes), min_size=n, max_size=n)),
        "message": draw(st.lists(_text(encoding, 40), min_size=n, max_size=n)),
        "bank_ref": draw(st.lists(_REF, min_size=n, max_size=n)),
    }
    return pl.DataFrame(rows, schema=RESULT_SCHEMA)


_ROUND_TRIP = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("encoding", ["gb18030", "gbk"])
@pytest.mark.parametrize("fmt", ["pipe", "fixed"])
@_ROUND_TRIP
@given(data=st.data())
def test_round_trip__request(fmt: str, encoding: str, data: st.DataObject) -> None:
    """Render then parse gives back every request record, the header and no problem."""
    frame = data.draw(_requests(encoding))
    raw = render_request(LAYOUTS[fmt], encoding, REQ_HEADER, frame)
    parsed = parse_request(LAYOUTS[fmt], encoding, raw, REQ_NAME)
    assert parsed.problems == []
    assert_frame_equal(parsed.details.drop("line"), frame)
    total = int(frame["amount_fen"].sum())
    assert parsed.header == {
        "batch_id": BATCH,
        "bank_code": BANK,
        "period": 2027,
        "count": frame.height,
        "total_fen": total,
        "created": date(2026, 11, 29),
    }
    assert parsed.trailer == {"count": frame.height, "total_fen": total}


@pytest.mark.parametrize("encoding", ["gb18030", "gbk"])
@pytest.mark.parametrize("fmt", ["pipe", "fixed"])
@_ROUND_TRIP
@given(data=st.data())
def test_round_trip__result(fmt: str, encoding: str, data: st.DataObject) -> None:
    """Render then parse gives back every result record and the computed success figures."""
    frame = data.draw(_results(fmt, encoding))
    raw = render_result(LAYOUTS[fmt], encoding, RES_HEADER, frame, SUCCESS[fmt])
    parsed = parse_result(LAYOUTS[fmt], encoding, raw, RET_NAME, SUCCESS[fmt])
    assert parsed.problems == []
    assert_frame_equal(parsed.details.drop("line"), frame)
    success = frame.filter(pl.col("code").is_in(sorted(SUCCESS[fmt])))
    assert parsed.header == {
        "batch_id": BATCH,
        "bank_code": BANK,
        "count": frame.height,
        "total_fen": int(frame["amount_fen"].sum()),
        "success_count": success.height,
        "success_fen": int(success["debited_fen"].sum()),
        "processed": date(2026, 12, 2),
    }


# --- fuzz --------------------------------------------------------------------------------------

_MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("duplicate_line"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("swap_digits"), st.integers(0, 10**6), st.just(0)),
)


def _duplicate_line(data: bytes, at: int) -> bytes:
    lines = data.split(b"\n")
    k = at % len(lines)
    return b"\n".join([*lines[: k + 1], lines[k], *lines[k + 1 :]])


def _swap_digits(data: bytes, at: int) -> bytes:
    pairs = [
        j for j in range(len(data) - 1) if data[j : j + 2].isdigit() and data[j] != data[j + 1]
    ]
    if not pairs:
        return data
    j = pairs[at % len(pairs)]
    return data[:j] + data[j + 1 : j + 2] + data[j : j + 1] + data[j + 2 :]


_MUTATORS: dict[str, Callable[[bytes, int, int], bytes]] = {
    "flip": lambda d, i, b: d[:i] + bytes([d[i] ^ b]) + d[i + 1 :],
    "insert": lambda d, i, b: d[:i] + bytes([b]) + d[i:],
    "delete": lambda d, i, _: d[:i] + d[i + 1 :],
    "truncate": lambda d, i, _: d[:i],
    "duplicate_line": lambda d, i, _: _duplicate_line(d, i),
    "swap_digits": lambda d, i, _: _swap_digits(d, i),
}


def _mutate(data: bytes, op: str, at: int, byte: int) -> bytes:
    if not data:
        return bytes([byte]) if op == "insert" else data
    return _MUTATORS[op](data, at % len(data), byte)


@pytest.mark.parametrize(
    ("golden", "encoding"),
    [
        ("pipe_result_basic.ret", "gb18030"),
        ("fixed_result_basic.ret", "gb18030"),
        ("pipe_result_basic.ret", "gbk"),
    ],
)
@settings(max_examples=60, deadline=None)
@given(mutations=st.lists(_MUTATION, min_size=1, max_size=4))
def test_fuzz__mutated_result_never_raises(
    golden: str, encoding: str, mutations: list[tuple[str, int, int]]
) -> None:
    """A mutated result file parses to problems or to a file whose figures all agree."""
    fmt = golden.split("_", maxsplit=1)[0]
    data = (GOLDEN / golden).read_bytes()
    for op, at, byte in mutations:
        data = _mutate(data, op, at, byte)
    parsed = parse_result(LAYOUTS[fmt], encoding, data, RET_NAME, SUCCESS[fmt])
    for problem in parsed.problems:
        assert "\n" not in str(problem)
        assert "\r" not in str(problem)
    if parsed.problems:
        return
    details = parsed.details
    assert details.drop("message", "bank_ref").null_count().row(0) == (0,) * 7
    total = int(details["amount_fen"].sum())
    success = details.filter(pl.col("code").is_in(sorted(SUCCESS[fmt])))
    assert parsed.header["count"] == parsed.trailer["count"] == details.height
    assert parsed.header["total_fen"] == parsed.trailer["total_fen"] == total
    assert parsed.header["success_count"] == success.height
    assert parsed.header["success_fen"] == int(success["debited_fen"].sum())
