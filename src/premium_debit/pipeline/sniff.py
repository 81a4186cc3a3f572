"""Telling inbox files apart by content (SPEC §8 nightly): due list, registry, paid list, or a
bank result file of any configured format."""

from __future__ import annotations

from pathlib import Path

from premium_debit.formats.tabular import sniff_table_kind
from premium_debit.pipeline.profiles import BankProfile

RESULT = "result"


def sniff_kind(path: Path, data: bytes, banks: dict[str, BankProfile]) -> str | None:
    """ "due", "registry", "paid", "result" or None when the content is none of them."""
    first = data.split(b"\n", 1)[0].rstrip(b"\r")
    if first.startswith(b"H"):
        for bank in banks.values():
            header = bank.layout.result.header
            if bank.layout.kind == "delimited":
                fields = first.split((bank.layout.delimiter or "|").encode("ascii"))
                if len(fields) == len(header) and fields[0] == b"H":
                    return RESULT
            elif len(first) == bank.layout.result.record_length:
                return RESULT
    return sniff_table_kind(path, data=data)
