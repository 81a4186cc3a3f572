"""The documentation under docs/ against the code it describes: reason codes, CLI commands,
configuration keys, exit codes, the simulator's options and the example bank layout."""

from __future__ import annotations

import argparse
import importlib.util
import tomllib
import typing
from datetime import date
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest
from pydantic import BaseModel

from premium_debit.cli import build_parser
from premium_debit.config import Config
from premium_debit.errors import (
    EXIT_CONFIG,
    EXIT_INPUT_REFUSED,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_TEMPFAIL,
)
from premium_debit.formats.bankfile import RequestHeader, parse_request, render_request
from premium_debit.formats.layout import parse_layout
from premium_debit.model.reasons import OUTCOME_CODES, REASONS

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


def _gen_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_reason_codes", DOCS / "gen_reason_codes.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def _subcommands() -> dict[str, tuple[argparse.ArgumentParser, str]]:
    """Each subcommand's parser and its one-line help, as `premium-debit --help` lists them."""
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(actions) == 1
    helps = {a.dest: a.help or "" for a in actions[0]._choices_actions}
    return {name: (sub, helps.get(name, "")) for name, sub in actions[0].choices.items()}


def _section(text: str, heading: str) -> str:
    """The text of a markdown section, from its heading to the next heading of any level."""
    start = text.index(heading + "\n")
    rest = text[start + len(heading) + 1 :]
    ends = [i for i in (rest.find("\n## "), rest.find("\n### ")) if i >= 0]
    return rest[: min(ends)] if ends else rest


def test_docs__every_reason_code_documented_with_text_and_action() -> None:
    """Every registry code has a row in reason-codes.md holding its Chinese text and action."""
    rows = _table_rows((DOCS / "reason-codes.md").read_text("utf-8"))
    missing = []
    for code, reason in REASONS.items():
        mine = [r for r in rows if f"| `{code}` |" in r]
        if not any(f"| {reason.zh} |" in r and f"| {reason.action_zh} |" in r for r in mine):
            missing.append(code)
    assert missing == []


def test_docs__reason_codes_page_is_generated_output() -> None:
    """The committed reason-codes.md is byte for byte what docs/gen_reason_codes.py renders."""
    committed = (DOCS / "reason-codes.md").read_text("utf-8")
    assert committed == _gen_module().render()


def test_docs__every_cli_command_in_operations_with_help() -> None:
    """Every subcommand has a one-line help, a working --help, a section and an example line."""
    ops = (DOCS / "operations.md").read_text("utf-8")
    problems = []
    for name, (sub, help_text) in _subcommands().items():
        if not help_text.strip():
            problems.append(f"{name}: no help text")
        if not sub.format_help().startswith(f"usage: premium-debit {name} "):
            problems.append(f"{name}: --help does not show its usage")
        if f"### `{name}`\n" not in ops:
            problems.append(f"{name}: no section in operations.md")
        if f"premium-debit {name} " not in ops:
            problems.append(f"{name}: no example line in operations.md")
    assert problems == []


def test_docs__help_option_exits_zero_for_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    """`premium-debit COMMAND --help` prints the command's usage and exits 0 for every command."""
    for name in _subcommands():
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args([name, "--help"])
        assert exit_info.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: premium-debit {name} ")


def _model_of(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def test_docs__every_configuration_key_in_operations() -> None:
    """Every key of every configuration section (config.py) has a row in the operations table."""
    first_cells = [
        row.split("|")[1] for row in _table_rows((DOCS / "operations.md").read_text("utf-8"))
    ]
    keys = []
    for section, field in Config.model_fields.items():
        model = _model_of(field.annotation)
        assert model is not None, section
        keys += [(section, key) for key in model.model_fields]
    assert len(keys) == 18
    documented = {
        (section, key)
        for section, key in keys
        for cell in first_cells
        if cell.strip() == f"`[{section}.{key}]`"
        or (f"[{section}]" in cell and cell.strip().endswith(f"` `{key}`"))
    }
    assert [k for k in keys if k not in documented] == []


def test_docs__exit_codes_in_operations() -> None:
    """The exit-code table of operations.md has a row for each code of errors.py."""
    table = _table_rows(_section((DOCS / "operations.md").read_text("utf-8"), "## Exit codes"))
    documented = [row.split("|")[1].strip() for row in table[2:]]
    codes = (EXIT_OK, EXIT_INPUT_REFUSED, EXIT_INTERNAL, EXIT_TEMPFAIL, EXIT_CONFIG)
    assert [f"`{c}`" for c in codes] == documented[:5]


def test_docs__simulator_profiles_and_faults_in_operations() -> None:
    """Every --profile and --fault choice of simulate-bank is named in its operations section."""
    section = _section((DOCS / "operations.md").read_text("utf-8"), "### `simulate-bank`")
    sub, _ = _subcommands()["simulate-bank"]
    choices = [c for a in sub._actions if a.dest in ("profile", "fault") for c in a.choices or ()]
    assert len(choices) == 17
    assert [c for c in choices if f"`{c}`" not in section] == []


def _layout_example() -> str:
    text = (DOCS / "bank-formats.md").read_text("utf-8")
    after = text.split("`layouts/fhrc-2027.toml` beside the configuration file:\n\n```toml\n")[1]
    return after.split("\n```\n")[0]


def test_docs__layout_example_loads_and_round_trips() -> None:
    """The example layout of bank-formats.md loads, and a request it renders reads back exactly."""
    layout = parse_layout(tomllib.loads(_layout_example()), source="bank-formats.md")
    assert (layout.name, layout.kind, layout.amount_unit, layout.name_width) == (
        "fhrc-2027",
        "fixed",
        "fen",
        60,
    )
    assert (layout.request.record_length, layout.result.record_length) == (150, 180)
    assert sorted(layout.codes.values()) == sorted(OUTCOME_CODES)
    details = pl.DataFrame(
        {
            "seq": [1],
            "instruction_id": ["2027FHRC2026112901000001"],
            "account_no": ["6213360000000000908"],
            "name": ["周杰"],
            "amount_fen": [54000],
            "person_id": ["330283198001010097"],
        }
    )
    header = RequestHeader("2027FHRC2026112901", "FHRC", 2027, date(2026, 11, 29))
    data = render_request(layout, "gbk", header, details)
    assert [len(line) for line in data.split(b"\r\n")] == [150, 150, 150, 0]
    assert data.split(b"\r\n")[1] == (
        b"D2027FHRC20261129010000016213360000000000908"
        + "周杰".encode("gbk")
        + b" " * 56
        + b"0000000000054000330283198001010097"
        + b" " * 12
    )
    parsed = parse_request(layout, "gbk", data, "FHRC_2027FHRC2026112901.req")
    assert parsed.problems == []
    assert parsed.details.drop("line", "seq").rows() == details.drop("seq").rows()
