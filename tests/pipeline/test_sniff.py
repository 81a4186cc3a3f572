"""Telling inbox files apart by content, for built-in and custom bank layouts."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from premium_debit.formats.layout import load_layout
from premium_debit.pipeline.profiles import BankProfile
from premium_debit.pipeline.sniff import sniff_kind


def _profile(layout_path: str, base: Path, code: str = "TEST") -> BankProfile:
    layout = load_layout(layout_path, base)
    return BankProfile(code, "", layout_path, layout, "gb18030", 50_000, dict(layout.codes))


def test_sniff__custom_header_tag_is_a_result(tmp_path: Path) -> None:
    """A result file of a custom layout whose header tag is HDR is recognised, not quarantined."""
    pipe = resources.files("premium_debit.formats").joinpath("layouts/pipe.toml").read_text("utf-8")
    custom = (
        pipe.replace('name = "pipe"', 'name = "custom"')
        .replace('value = "H"', 'value = "HDR"')
        .replace('value = "D"', 'value = "DTL"')
        .replace('value = "T"', 'value = "TRL"')
    )
    (tmp_path / "custom.toml").write_text(custom, "utf-8")
    banks = {"TEST": _profile("custom.toml", tmp_path)}
    result = (
        b"HDR|2027TEST2026112901|TEST|1|5.00|1|5.00|20261130\r\nDTL|1|x|y|5.00|5.00|0000|ok|r\r\n"
    )
    assert sniff_kind(tmp_path / "a.ret", result, banks) == "result"
    builtin = {"NBCB": _profile("pipe", tmp_path, "NBCB")}
    assert sniff_kind(tmp_path / "a.ret", result, builtin) is None
    due = b"person_id,name,township,category,period,amount_due\n"
    assert sniff_kind(tmp_path / "due.csv", due, banks) == "due"
