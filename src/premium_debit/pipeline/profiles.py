"""A bank's profile: its configuration joined with its file layout and result-code map.

Every bank quirk (format, encoding, batch size, code map) lives here, so no step branches on a
bank's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from premium_debit.config import Bank, Config
from premium_debit.formats.layout import Layout, load_layout


@dataclass(frozen=True)
class BankProfile:
    code: str
    name: str
    format: str  # "pipe", "fixed" or the path of a format description, as configured
    layout: Layout
    encoding: str
    max_records: int
    codes: dict[str, str]  # bank result code → outcome of SPEC §4.3

    @property
    def name_width(self) -> int | None:
        """Byte width of the request's name field (fixed layouts), None when delimited."""
        return self.layout.name_width

    @property
    def success_codes(self) -> frozenset[str]:
        return frozenset(code for code, outcome in self.codes.items() if outcome == "SUCCEEDED")


def bank_profile(cfg: Config, bank: Bank) -> BankProfile:
    layout = load_layout(bank.format, cfg.base_dir)
    codes = dict(bank.codes) if bank.codes is not None else dict(layout.codes)
    return BankProfile(
        code=bank.code,
        name=bank.name,
        format=bank.format,
        layout=layout,
        encoding=bank.encoding,
        max_records=bank.max_records,
        codes=codes,
    )


def bank_profiles(cfg: Config) -> dict[str, BankProfile]:
    """Profiles of every configured bank, in configuration order."""
    return {b.code: bank_profile(cfg, b) for b in cfg.banks}
