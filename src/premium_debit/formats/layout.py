"""Declarative bank-file layouts (SPEC §4): one description of a format drives both reading
and writing its request and result files.

A layout says how records are cut (``delimited`` by one character, or ``fixed`` byte widths
padded to a record length), how amounts are written (yuan with 2 decimals, or fen), which
fields each H, D and T record holds in which order, and the format's default result-code map
(SPEC §4.3). The built-ins ``pipe`` and ``fixed`` ship as TOML package data; any other format
string names a TOML file of the same schema, so adding a bank format is a configuration change.

Field names are canonical — the same in every layout — because the program reads and writes
records by name: ``CATALOGUE`` lists, per file and record, the names a layout may use, the type
each must have and whether it is required.
"""

from __future__ import annotations

import functools
import importlib.resources
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from premium_debit.config import read_toml
from premium_debit.errors import ConfigError
from premium_debit.model.reasons import OUTCOME_CODES

BUILTIN_LAYOUTS = ("pipe", "fixed")

FileKind = Literal["request", "result"]
RecordKind = Literal["header", "detail", "trailer"]
RECORD_KINDS: tuple[RecordKind, ...] = ("header", "detail", "trailer")
FILE_KINDS: tuple[FileKind, ...] = ("request", "result")
TAG_NAME = "record_type"
DATE_FORMAT = "%Y%m%d"
DATE_WIDTH = 8


class FieldType(StrEnum):
    TAG = "tag"  # the record type, a constant: "H", "D", "T"
    INT = "int"  # non-negative integer; fixed: right-aligned, zero-padded
    AMOUNT = "amount"  # money, held as fen; written in the layout's amount_unit
    TEXT = "text"  # fixed: left-aligned, space-padded to its width in bytes
    DATE = "date"  # YYYYMMDD


_T, _I, _A, _D = FieldType.TEXT, FieldType.INT, FieldType.AMOUNT, FieldType.DATE
# (file, record) → field name → (type, required). Optional fields may be left out of a layout;
# a reader then reports them as null and skips the checks that need them.
CATALOGUE: dict[FileKind, dict[RecordKind, dict[str, tuple[FieldType, bool]]]] = {
    "request": {
        "header": {
            "batch_id": (_T, True),
            "bank_code": (_T, True),
            "period": (_I, False),
            "count": (_I, False),
            "total_fen": (_A, False),
            "created": (_D, False),
        },
        "detail": {
            "seq": (_I, False),
            "instruction_id": (_T, True),
            "account_no": (_T, True),
            "name": (_T, True),
            "amount_fen": (_A, True),
            "person_id": (_T, False),
        },
        "trailer": {"count": (_I, False), "total_fen": (_A, False)},
    },
    "result": {
        "header": {
            "batch_id": (_T, True),
            "bank_code": (_T, True),
            "count": (_I, False),
            "total_fen": (_A, False),
            "success_count": (_I, False),
            "success_fen": (_A, False),
            "processed": (_D, False),
        },
        "detail": {
            "seq": (_I, False),
            "instruction_id": (_T, True),
            "account_no": (_T, True),
            "amount_fen": (_A, True),
            "debited_fen": (_A, True),
            "code": (_T, True),
            "message": (_T, False),
            "bank_ref": (_T, False),
        },
        "trailer": {"count": (_I, False), "total_fen": (_A, False)},
    },
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    """One field of a record: canonical name, type, width in bytes (fixed layouts only) and,
    for the record-type tag, its constant value."""

    name: str
    type: FieldType
    width: Annotated[int, Field(gt=0)] | None = None
    value: str | None = None


class FileLayout(_Strict):
    """The records of one file type (request or result)."""

    record_length: Annotated[int, Field(gt=0)] | None = None  # fixed layouts only, bytes
    header: Annotated[list[FieldSpec], Field(min_length=1)]
    detail: Annotated[list[FieldSpec], Field(min_length=1)]
    trailer: Annotated[list[FieldSpec], Field(min_length=1)]

    def record(self, kind: RecordKind) -> list[FieldSpec]:
        return {"header": self.header, "detail": self.detail, "trailer": self.trailer}[kind]

    def tag(self, kind: RecordKind) -> str:
        """The record-type value that starts a ``kind`` record."""
        value = self.record(kind)[0].value
        assert value is not None  # checked when the layout is loaded
        return value


class Layout(_Strict):
    """A bank file format; see the module docstring. Built by ``load_layout``."""

    name: Annotated[str, Field(min_length=1)]
    kind: Literal["delimited", "fixed"]
    delimiter: str | None = None
    amount_unit: Literal["yuan", "fen"]
    request: FileLayout
    result: FileLayout
    codes: Annotated[dict[str, str], Field(min_length=1)]

    def file(self, kind: FileKind) -> FileLayout:
        return self.request if kind == "request" else self.result

    @property
    def is_fixed(self) -> bool:
        return self.kind == "fixed"

    @property
    def name_width(self) -> int | None:
        """Bytes of the request's name field (SPEC §3 NAME_TOO_LONG); None when delimited."""
        if not self.is_fixed:
            return None
        return next(f.width for f in self.request.detail if f.name == "name")

    @model_validator(mode="after")
    def _coherent(self) -> Layout:
        problems = list(_layout_problems(self))
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ValueError(problems[0] + more)
        return self


def _layout_problems(layout: Layout) -> list[str]:
    """Every inconsistency of ``layout``, each as "key: what is wrong"."""
    out: list[str] = []
    fixed = layout.is_fixed
    if fixed and layout.delimiter is not None:
        out.append("delimiter: only a delimited layout has a delimiter")
    if not fixed and (
        layout.delimiter is None
        or len(layout.delimiter) != 1
        or not layout.delimiter.isascii()
        or layout.delimiter.isalnum()
        or layout.delimiter in "\r\n. "
    ):
        out.append('delimiter: a delimited layout needs one ASCII punctuation character, e.g. "|"')
    for file_kind in FILE_KINDS:
        out.extend(_file_problems(layout, file_kind))
    code_width = next((f.width for f in layout.result.detail if f.name == "code"), None)
    for code, outcome in layout.codes.items():
        if not code or not code.isascii() or not code.isprintable():
            out.append(f"codes: code {code!r} must be printable ASCII")
        elif code_width is not None and len(code) > code_width:
            out.append(f"codes.{code}: longer than the result's {code_width}-byte code field")
        if outcome not in OUTCOME_CODES:
            out.append(f"codes.{code}: {outcome!r} is not one of {', '.join(OUTCOME_CODES)}")
    return out


def _file_problems(layout: Layout, file_kind: FileKind) -> list[str]:
    out: list[str] = []
    spec = layout.file(file_kind)
    fixed = layout.is_fixed
    if fixed and spec.record_length is None:
        out.append(f"{file_kind}.record_length: a fixed layout needs the record length in bytes")
    if not fixed and spec.record_length is not None:
        out.append(f"{file_kind}.record_length: only a fixed layout has a record length")
    tags: dict[str, str] = {}
    for record_kind in RECORD_KINDS:
        fields = spec.record(record_kind)
        catalogue = CATALOGUE[file_kind][record_kind]
        seen: set[str] = set()
        for i, f in enumerate(fields):
            key = f"{file_kind}.{record_kind}[{i}]"
            out.extend(_field_problems(layout, f, key, first=i == 0, known=catalogue))
            if f.name in seen:
                out.append(f"{key}.name: {f.name!r} appears twice")
            seen.add(f.name)
        missing = [n for n, (_, required) in catalogue.items() if required and n not in seen]
        if missing:
            out.append(f"{file_kind}.{record_kind}: missing required field(s) {', '.join(missing)}")
        value = fields[0].value
        if fields[0].type is FieldType.TAG and value:
            if value in tags.values():
                out.append(f"{file_kind}.{record_kind}[0].value: {value!r} tags two record types")
            tags[record_kind] = value
        widths = [f.width or 0 for f in fields]
        if fixed and spec.record_length is not None and sum(widths) > spec.record_length:
            out.append(
                f"{file_kind}.{record_kind}: the widths add up to {sum(widths)} bytes, more than"
                f" the record length {spec.record_length}"
            )
    if fixed and len({len(v) for v in tags.values()}) > 1:
        out.append(f"{file_kind}: the record-type tags of a fixed layout must have one width")
    return out


def _field_problems(
    layout: Layout,
    f: FieldSpec,
    key: str,
    *,
    first: bool,
    known: dict[str, tuple[FieldType, bool]],
) -> list[str]:
    out: list[str] = []
    if first != (f.type is FieldType.TAG):
        where = "the first field" if first else "only the first field"
        out.append(f'{key}.type: {where} of a record is its tag (type "tag")')
    if f.type is FieldType.TAG:
        out.extend(_tag_problems(layout, f, key))
    else:
        if f.value is not None:
            out.append(f"{key}.value: only the tag field has a constant value")
        if f.name not in known:
            out.append(f"{key}.name: unknown field {f.name!r}; known: {', '.join(known)}")
        elif known[f.name][0] is not f.type:
            out.append(f"{key}.type: {f.name} is of type {known[f.name][0].value!r}")
    if layout.is_fixed:
        if f.width is None:
            out.append(f"{key}.width: a fixed layout needs every field's width in bytes")
        elif f.type is FieldType.DATE and f.width != DATE_WIDTH:
            out.append(f"{key}.width: a date is {DATE_WIDTH} bytes (YYYYMMDD)")
    elif f.width is not None:
        out.append(f"{key}.width: only a fixed layout has field widths")
    return out


def _tag_problems(layout: Layout, f: FieldSpec, key: str) -> list[str]:
    out: list[str] = []
    if f.name != TAG_NAME:
        out.append(f"{key}.name: the tag field is named {TAG_NAME!r}")
    if not f.value or not f.value.isascii() or not f.value.isprintable():
        out.append(f'{key}.value: a tag needs a printable ASCII value, e.g. "H"')
    elif layout.delimiter is not None and layout.delimiter in f.value:
        out.append(f"{key}.value: a tag cannot contain the delimiter")
    elif layout.is_fixed and f.width is not None and f.width != len(f.value):
        out.append(f"{key}.width: the tag {f.value!r} is {len(f.value)} bytes wide")
    return out


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def parse_layout(data: dict[str, Any], *, source: str) -> Layout:
    """Validate a layout description; a broken one is a ``ConfigError`` naming ``source`` and
    the key."""
    try:
        return Layout.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        loc = _loc(err["loc"])
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ConfigError(f"{source}: {loc + ': ' if loc else ''}{msg}{more}") from None


@functools.cache
def _builtin(fmt: str) -> Layout:
    resource = importlib.resources.files("premium_debit.formats").joinpath("layouts", f"{fmt}.toml")
    return parse_layout(tomllib.loads(resource.read_text("utf-8")), source=f"built-in layout {fmt}")


def load_layout(fmt: str, base_dir: Path) -> Layout:
    """The layout a bank's ``format`` names: a built-in (``pipe``, ``fixed``) or the path of a
    TOML description, relative to ``base_dir`` (the configuration's folder)."""
    if fmt in BUILTIN_LAYOUTS:
        return _builtin(fmt)
    path = Path(fmt)
    if not path.is_absolute():
        path = base_dir / path
    data = read_toml(
        path,
        what="format description",
        missing=f"format description not found (a bank's format is"
        f" {' or '.join(BUILTIN_LAYOUTS)} or the path of a layout TOML file)",
    )
    return parse_layout(data, source=str(path))
