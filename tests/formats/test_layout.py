"""Bank-file layouts (formats/layout.py): the built-ins are SPEC §4.1–4.3 exactly, a custom
TOML description loads by path, and a broken one is a ConfigError naming file and key."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest

from premium_debit.errors import ConfigError
from premium_debit.formats.layout import Layout, load_layout
from premium_debit.model.reasons import DEFAULT_CODES, OUTCOME_CODES


def _fields(layout: Layout, file_kind: str, record: str) -> list[tuple[str, str, int | None]]:
    spec = layout.request if file_kind == "request" else layout.result
    return [(f.name, f.type.value, f.width) for f in spec.record(record)]  # type: ignore[arg-type]


def _builtin_text(name: str) -> str:
    resource = importlib.resources.files("premium_debit.formats").joinpath("layouts", name)
    return resource.read_text("utf-8")


# --- the built-ins ---------------------------------------------------------------------------


def test_pipe__fields_in_spec_order() -> None:
    """The pipe layout's H, D and T records list SPEC §4.1's fields in its order and types."""
    pipe = load_layout("pipe", Path("/nowhere"))
    assert (pipe.kind, pipe.delimiter, pipe.amount_unit) == ("delimited", "|", "yuan")
    assert (pipe.request.record_length, pipe.result.record_length) == (None, None)
    tag = ("record_type", "tag", None)
    assert _fields(pipe, "request", "header") == [
        tag,
        ("batch_id", "text", None),
        ("bank_code", "text", None),
        ("period", "int", None),
        ("count", "int", None),
        ("total_fen", "amount", None),
        ("created", "date", None),
    ]
    assert _fields(pipe, "request", "detail") == [
        tag,
        ("seq", "int", None),
        ("instruction_id", "text", None),
        ("account_no", "text", None),
        ("name", "text", None),
        ("amount_fen", "amount", None),
        ("person_id", "text", None),
    ]
    assert _fields(pipe, "result", "header") == [
        tag,
        ("batch_id", "text", None),
        ("bank_code", "text", None),
        ("count", "int", None),
        ("total_fen", "amount", None),
        ("success_count", "int", None),
        ("success_fen", "amount", None),
        ("processed", "date", None),
    ]
    assert _fields(pipe, "result", "detail") == [
        tag,
        ("seq", "int", None),
        ("instruction_id", "text", None),
        ("account_no", "text", None),
        ("amount_fen", "amount", None),
        ("debited_fen", "amount", None),
        ("code", "text", None),
        ("message", "text", None),
        ("bank_ref", "text", None),
    ]
    trailer = [tag, ("count", "int", None), ("total_fen", "amount", None)]
    assert _fields(pipe, "request", "trailer") == trailer
    assert _fields(pipe, "result", "trailer") == trailer
    assert [pipe.request.tag(r) for r in ("header", "detail", "trailer")] == ["H", "D", "T"]


def test_fixed__byte_widths_of_spec() -> None:
    """The fixed layout has SPEC §4.2's fields, byte widths and record lengths 130 / 150."""
    fixed = load_layout("fixed", Path("/nowhere"))
    assert (fixed.kind, fixed.delimiter, fixed.amount_unit) == ("fixed", None, "fen")
    assert (fixed.request.record_length, fixed.result.record_length) == (130, 150)

    def widths(file_kind: str, record: str) -> list[tuple[str, int | None]]:
        return [(n, w) for n, _, w in _fields(fixed, file_kind, record)]

    tag = ("record_type", 1)
    assert widths("request", "header") == [
        tag,
        ("batch_id", 20),
        ("bank_code", 4),
        ("period", 4),
        ("count", 10),
        ("total_fen", 15),
        ("created", 8),
    ]
    assert widths("request", "detail") == [
        tag,
        ("seq", 10),
        ("instruction_id", 30),
        ("account_no", 19),
        ("name", 40),
        ("amount_fen", 12),
        ("person_id", 18),
    ]
    assert widths("result", "header") == [
        tag,
        ("batch_id", 20),
        ("bank_code", 4),
        ("count", 10),
        ("total_fen", 15),
        ("success_count", 10),
        ("success_fen", 15),
        ("processed", 8),
    ]
    assert widths("result", "detail") == [
        tag,
        ("seq", 10),
        ("instruction_id", 30),
        ("account_no", 19),
        ("amount_fen", 12),
        ("debited_fen", 12),
        ("code", 2),
        ("message", 40),
        ("bank_ref", 24),
    ]
    assert widths("request", "trailer") == [tag, ("count", 10), ("total_fen", 15)]
    assert widths("result", "trailer") == [tag, ("count", 10), ("total_fen", 15)]


@pytest.mark.parametrize("fmt", ["pipe", "fixed"])
def test_builtin__codes_are_spec_defaults(fmt: str) -> None:
    """Each built-in carries SPEC §4.3's code map, the one in the reasons registry."""
    layout = load_layout(fmt, Path("/nowhere"))
    assert layout.codes == DEFAULT_CODES[fmt]
    assert sorted(layout.codes.values()) == sorted(OUTCOME_CODES)


def test_name_width__fixed_40_bytes_pipe_none() -> None:
    """The build's NAME_TOO_LONG rule reads 40 bytes for fixed and no limit for pipe."""
    assert load_layout("fixed", Path(".")).name_width == 40
    assert load_layout("pipe", Path(".")).name_width is None


# --- a custom description --------------------------------------------------------------------


def test_custom__relative_path_loads_from_base_dir(tmp_path: Path) -> None:
    """A format other than a built-in name is a TOML path relative to the configuration's folder."""
    text = _builtin_text("pipe.toml").replace('name = "pipe"', 'name = "semicolon"')
    text = text.replace('delimiter = "|"', 'delimiter = ";"')
    (tmp_path / "formats").mkdir()
    (tmp_path / "formats" / "semicolon.toml").write_text(text, encoding="utf-8")
    layout = load_layout("formats/semicolon.toml", tmp_path)
    assert (layout.name, layout.delimiter) == ("semicolon", ";")
    assert layout.request == load_layout("pipe", tmp_path).request


def test_custom__missing_file_is_config_error(tmp_path: Path) -> None:
    """A format path that names no file is a configuration error naming the path."""
    with pytest.raises(ConfigError) as info:
        load_layout("formats/nbcb.toml", tmp_path)
    assert str(info.value) == (
        f"{tmp_path / 'formats' / 'nbcb.toml'}: format description not found"
        " (a bank's format is pipe or fixed or the path of a layout TOML file)"
    )


_SEQ_FIXED = '{ name = "seq", type = "int", width = 10 }'


@pytest.mark.parametrize(
    ("base", "old", "new", "problem"),
    [
        pytest.param(
            "fixed.toml",
            _SEQ_FIXED,
            '{ name = "seq", type = "int" }',
            "request.detail[1].width: a fixed layout needs every field's width in bytes",
            id="fixed_field_without_width",
        ),
        pytest.param(
            "fixed.toml",
            _SEQ_FIXED,
            '{ name = "sequence", type = "int", width = 10 }',
            "request.detail[1].name: unknown field 'sequence'; known: seq, instruction_id,"
            " account_no, name, amount_fen, person_id",
            id="unknown_field_name",
        ),
        pytest.param(
            "fixed.toml",
            '{ name = "amount_fen", type = "amount", width = 12 },\n    { name = "person_id"',
            '{ name = "amount_fen", type = "int", width = 12 },\n    { name = "person_id"',
            "request.detail[5].type: amount_fen is of type 'amount'",
            id="wrong_field_type",
        ),
        pytest.param(
            "fixed.toml",
            '{ name = "name", type = "text", width = 40 }',
            '{ name = "name", type = "text", width = 41 }',
            "request.detail: the widths add up to 131 bytes, more than the record length 130",
            id="widths_exceed_record_length",
        ),
        pytest.param(
            "fixed.toml",
            "record_length = 130\n",
            "",
            "request.record_length: a fixed layout needs the record length in bytes",
            id="fixed_without_record_length",
        ),
        pytest.param(
            "pipe.toml",
            '    { name = "instruction_id", type = "text" },\n    { name = "account_no", type = "text" },\n    { name = "name"',  # noqa: E501
            '    { name = "account_no", type = "text" },\n    { name = "name"',
            "request.detail: missing required field(s) instruction_id",
            id="required_field_missing",
        ),
        pytest.param(
            "pipe.toml",
            '{ name = "record_type", type = "tag", value = "T" }',
            '{ name = "record_type", type = "tag", value = "D" }',
            "request.trailer[0].value: 'D' tags two record types",
            id="tag_used_twice",
        ),
        pytest.param(
            "pipe.toml",
            'delimiter = "|"',
            'delimiter = "||"',
            'delimiter: a delimited layout needs one ASCII punctuation character, e.g. "|"',
            id="delimiter_two_characters",
        ),
        pytest.param(
            "pipe.toml",
            '"0000" = "SUCCEEDED"',
            '"0000" = "PAID"',
            "codes.0000: 'PAID' is not one of " + ", ".join(OUTCOME_CODES),
            id="code_maps_to_unknown_outcome",
        ),
        pytest.param(
            "fixed.toml",
            '"00" = "SUCCEEDED"',
            '"000" = "SUCCEEDED"',
            "codes.000: longer than the result's 2-byte code field",
            id="code_wider_than_its_field",
        ),
        pytest.param(
            "pipe.toml",
            'kind = "delimited"',
            'kind = "csv"',
            "kind: Input should be 'delimited' or 'fixed'",
            id="unknown_kind",
        ),
        pytest.param(
            "pipe.toml",
            'amount_unit = "yuan"',
            'amount_unit = "yuan"\ncolour = "red"',
            "colour: unknown key",
            id="unknown_key",
        ),
        pytest.param(
            "pipe.toml",
            'delimiter = "|"',
            'delimiter = "|',
            "not valid TOML: Illegal character '\\n' (at line 8, column 15)",
            id="not_toml",
        ),
    ],
)
def test_custom__broken_description_names_file_and_key(
    tmp_path: Path, base: str, old: str, new: str, problem: str
) -> None:
    """A broken layout description is one ConfigError line: the file, the key, what is wrong."""
    text = _builtin_text(base)
    assert old in text
    path = tmp_path / "bank.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_layout(str(path), Path("/elsewhere"))
    assert str(info.value) == f"{path}: {problem}"
