"""Byte facts about text in a bank's encoding, as vectorised polars expressions.

A bank file's widths are bytes of the bank's encoding (SPEC §4.2) and a name the encoding
cannot carry is rejected before it reaches a file (SPEC §3 reason 25). Polars has no codecs of
its own, so once per encoding we ask Python's codec about every code point, compress the answer
into regex character classes and count matches per row with Rust regex: no Python per row.

Only ASCII-compatible, stateless encodings can carry a bank file (every line end, delimiter,
digit and padding space is one ASCII byte); GB18030, GBK and UTF-8 are. Lengths are exact for
such codecs: a character's encoded length does not depend on its neighbours.
"""

from __future__ import annotations

import codecs
import functools
from dataclasses import dataclass

import polars as pl

from premium_debit.errors import ConfigError

_BMP_END = 0x10000
_UNICODE_END = 0x110000
_SURROGATES = range(0xD800, 0xE000)
# The bytes every bank file is built from: if the encoding writes them differently, positions
# and widths stop meaning bytes.
_ASCII_PROBE = "HDT|0123456789 .-_\r\nABCXYZabcxyz"


@dataclass(frozen=True)
class _Classes:
    """Regex character classes of one encoding.

    ``unencodable`` matches characters the codec cannot write (None: it writes everything).
    ``extra_bytes`` holds ``(pattern, weight)``: the byte length of a text is its character
    count plus, per pattern, weight × its matches. A pattern is the class of characters written
    in j or more bytes (j ≥ 2); equal classes are merged into one with their weights summed
    (GB18030 has no 3-byte characters, so "≥3" and "≥4" are one class of weight 2).
    """

    unencodable: str | None
    extra_bytes: tuple[tuple[str, int], ...]


def require_ascii_compatible(encoding: str) -> None:
    """Refuse an encoding that does not write ASCII as the same single bytes."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ConfigError(f"unknown encoding {encoding!r}") from None
    try:
        ok = _ASCII_PROBE.encode(encoding) == _ASCII_PROBE.encode("ascii")
    except UnicodeEncodeError:
        ok = False
    if not ok:
        raise ConfigError(
            f"encoding {encoding!r} cannot carry a bank file:"
            " it does not write ASCII as the same single bytes"
        )


def _byte_length(cp: int, encoding: str) -> int:
    """Encoded length of one code point; 0 when the codec cannot write it."""
    try:
        return len(chr(cp).encode(encoding))
    except UnicodeEncodeError:
        return 0


def _runs(start: int, stop: int, encoding: str) -> list[tuple[int, int, int]]:
    """Runs ``(first, last, length)`` of equal encoded length over ``range(start, stop)``;
    length 0 means the codec cannot write the character. Surrogates never occur in polars
    text: they are left out, so a run may span them (regex escapes name scalar values only,
    so a run never starts or ends on one)."""
    runs: list[tuple[int, int, int]] = []
    for cp in range(start, stop):
        if cp in _SURROGATES:
            continue
        length = _byte_length(cp, encoding)
        if runs and runs[-1][2] == length:
            runs[-1] = (runs[-1][0], cp, length)
        else:
            runs.append((cp, cp, length))
    return runs


def _plane_runs(plane: int, encoding: str) -> list[tuple[int, int, int]]:
    """Runs of a supplementary plane, asked about as a whole first: a per-character loop over
    a million code points costs seconds, and GBK writes none of them while GB18030 and UTF-8
    write all of them in 4 bytes."""
    start, stop = plane * _BMP_END, (plane + 1) * _BMP_END
    block = "".join(map(chr, range(start, stop)))
    if not block.encode(encoding, errors="ignore"):
        return [(start, stop - 1, 0)]
    first = _byte_length(start, encoding)
    try:
        uniform = len(block.encode(encoding)) == first * _BMP_END
    except UnicodeEncodeError:
        uniform = False
    return [(start, stop - 1, first)] if uniform else _runs(start, stop, encoding)


def _char_class(runs: list[tuple[int, int, int]], keep: range) -> str | None:
    """A regex class of the runs whose length is in ``keep``, adjacent ones merged."""
    merged: list[tuple[int, int]] = []
    for first, last, length in runs:
        if length not in keep:
            continue
        if merged and _next_scalar(merged[-1][1]) == first:
            merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    if not merged:
        return None
    parts = [f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in merged]
    return "[" + "".join(parts) + "]"


def _next_scalar(cp: int) -> int:
    return _SURROGATES.stop if cp + 1 == _SURROGATES.start else cp + 1


@functools.cache
def _classes(codec_name: str) -> _Classes:
    runs = _runs(0, _BMP_END, codec_name)
    for plane in range(1, _UNICODE_END // _BMP_END):
        runs.extend(_plane_runs(plane, codec_name))
    longest = max(length for _, _, length in runs)
    weights: dict[str, int] = {}
    for j in range(2, longest + 1):
        pattern = _char_class(runs, range(j, longest + 1))
        if pattern is not None:
            weights[pattern] = weights.get(pattern, 0) + 1
    return _Classes(unencodable=_char_class(runs, range(1)), extra_bytes=tuple(weights.items()))


def _classes_of(encoding: str) -> _Classes:
    require_ascii_compatible(encoding)
    # One cache entry per codec, whatever alias names it ("GB18030", "gb-18030").
    return _classes(codecs.lookup(encoding).name)


def encodable_expr(expr: pl.Expr, encoding: str) -> pl.Expr:
    """Boolean: every character of the text can be written in ``encoding`` (null stays null)."""
    pattern = _classes_of(encoding).unencodable
    if pattern is None:
        return pl.when(expr.is_null()).then(None).otherwise(pl.lit(True))
    return expr.str.contains(pattern).not_()


def byte_len_expr(expr: pl.Expr, encoding: str) -> pl.Expr:
    """Int64: bytes of the text written in ``encoding``; null where it cannot be written."""
    classes = _classes_of(encoding)
    length = expr.str.len_chars().cast(pl.Int64)
    for pattern, weight in classes.extra_bytes:
        length = length + weight * expr.str.count_matches(pattern).cast(pl.Int64)
    return pl.when(encodable_expr(expr, encoding)).then(length).otherwise(None)
