"""Byte facts about text in a bank's encoding (formats/encoding.py), checked against Python's
own codecs."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from premium_debit.errors import ConfigError
from premium_debit.formats.encoding import (
    byte_len_expr,
    encodable_expr,
    require_ascii_compatible,
)

ENCODINGS = ("gb18030", "gbk", "utf-8", "big5", "latin-1")


def _facts(texts: list[str | None], encoding: str) -> list[tuple[bool | None, int | None]]:
    frame = pl.DataFrame({"t": texts}, schema={"t": pl.String}).select(
        encodable_expr(pl.col("t"), encoding).alias("ok"),
        byte_len_expr(pl.col("t"), encoding).alias("n"),
    )
    return list(zip(frame["ok"].to_list(), frame["n"].to_list(), strict=True))


def _python_facts(text: str, encoding: str) -> tuple[bool, int | None]:
    try:
        return True, len(text.encode(encoding))
    except UnicodeEncodeError:
        return False, None


@pytest.mark.parametrize(
    ("text", "encoding", "expected"),
    [
        ("张三", "gb18030", (True, 4)),
        ("𠮷", "gb18030", (True, 4)),  # U+20BB7, supplementary plane
        ("𠮷", "gbk", (False, None)),
        ("㐀", "gb18030", (True, 4)),  # U+3400, CJK extension A: 4 bytes in GB18030
        ("㐀", "gbk", (False, None)),
        ("€", "gb18030", (True, 2)),
        ("€", "gbk", (False, None)),  # Python's gbk has no euro sign (cp936's 0x80 is not gbk)
        ("\x80", "gb18030", (True, 4)),
        ("欧阳·娜娜", "gbk", (True, 10)),
        ("Zhang San 3", "gb18030", (True, 11)),
        ("", "gb18030", (True, 0)),
        ("张三", "utf-8", (True, 6)),
        ("é", "latin-1", (True, 1)),
        ("张", "latin-1", (False, None)),
    ],
)
def test_encoding__known_characters(
    text: str, encoding: str, expected: tuple[bool, int | None]
) -> None:
    """Encodability and byte length of hand-picked characters are the codec's exact answer."""
    assert _facts([text], encoding) == [expected]


def test_encoding__null_stays_null() -> None:
    """A missing text has no encodability and no length."""
    assert _facts([None], "gb18030") == [(None, None)]
    assert _facts([None], "utf-8") == [(None, None)]


def test_encoding__aliases_share_one_answer() -> None:
    """An alias of a codec ("GB18030", "utf8") answers like its canonical name."""
    assert _facts(["𠮷€张"], "GB18030") == [(True, 8)]
    assert _facts(["𠮷€张"], "utf8") == [(True, 10)]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "cp500"])
def test_encoding__ascii_incompatible_refused(encoding: str) -> None:
    """An encoding that does not write ASCII as the same single bytes cannot carry a bank file."""
    with pytest.raises(ConfigError, match=f"encoding '{encoding}' cannot carry a bank file"):
        require_ascii_compatible(encoding)
    with pytest.raises(ConfigError):
        _facts(["a"], encoding)


_CHARS = st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),  # ASCII
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # CJK unified
    st.characters(min_codepoint=0x3400, max_codepoint=0x4DBF),  # extension A (㐀)
    st.characters(min_codepoint=0x20000, max_codepoint=0x2A6DF),  # extension B (𠮷)
    st.sampled_from("€·•‧・･　ＡＺａｚ０９é¤§¨°±×÷ˇˉ—‘’“”…‰※"),  # signs GBK may lack
    st.characters(codec="utf-8", exclude_categories=("Cs",)),  # anything at all
)


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.text(_CHARS, max_size=12), min_size=1, max_size=30))
def test_encoding__agrees_with_python_codecs(texts: list[str]) -> None:
    """For every encoding, encodable and byte length agree with Python's str.encode."""
    for encoding in ENCODINGS:
        assert _facts(list(texts), encoding) == [_python_facts(t, encoding) for t in texts]
