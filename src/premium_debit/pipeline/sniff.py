"""Telling inbox files apart by content (SPEC §8 nightly): due list, registry, paid list, or a
bank result file of any configured format."""

from __future__ import annotations

from pathlib import Path

from premium_debit.formats.tabular import sniff_table_kind
from premium_debit.pipeline.profiles import BankProfile

RESULT = "result"


def sniff_kind(path: Path, data: bytes, banks: dict[str, BankProfile]) -> str | None:
    """ "due", "registry", "paid", "result" or None when the content is none of them.

    A result file is recognised by its first record matching some configured bank's result
    header: its tag and, delimited, its field count or, fixed, its record length.
    """
    first = data.split(b"\n", 1)[0].rstrip(b"\r")
    for bank in banks.values():
        result = bank.layout.result
        tag = result.tag("header").encode("ascii")
        if not first.startswith(tag):
            continue
        if bank.layout.kind == "delimited":
            fields = first.split((bank.layout.delimiter or "|").encode("ascii"))
            if len(fields) == len(result.header) and fields[0] == tag:
                return RESULT
        elif len(first) == result.record_length:
            return RESULT
    return sniff_table_kind(path, data=data)
