"""A realistic generated campaign for the six pilot townships: due lists, a registry, a paid list.

Used by ``premium-debit demo`` (about 120,000 residents) and by the benchmark (millions), so
everything is vectorised: numpy draws the random choices, polars builds the strings, and the
only Python loops run over *kinds* (townships, banks, account prefixes, dot characters), never
over residents. The same ``(residents, seed, period, as_of)`` gives byte-identical files.

What the data looks like (SPEC §2):

* **Residents** live in six townships of uneven size, each with a handful of villages, in four
  insured categories whose birth dates fit (a minor is under 18 on ``as_of``, an elderly
  resident 60 or over). IDs are valid GB 11643 numbers, unique, mostly of Fenghua (330283;
  330224 for some born before 1989, 330213 for those born since 2017), some of elsewhere in
  Zhejiang or of other provinces (migrant workers).
* **Names** are drawn from weighted common surnames (Zhejiang-heavy, with Fenghua's 应, 毛, 蒋,
  竺, 邬) and gendered given-name characters; a few carry a rare character (half of them
  outside GBK: NAME_NOT_ENCODABLE at the GBK bank), a few are minority names joined by a middle
  dot typed three ways, a few are very long transliterations (> 40 GBK bytes: NAME_TOO_LONG at
  a ``fixed`` bank), a few mix Latin letters.
* **Registry** defects are planted with *exact* counts (``round(share × residents)``, see
  :func:`planned_counts`), each resident getting at most one, so each maps to one reason code
  of SPEC §3 — see ``REGISTRY_DEFECTS``. About 3 % extra card holders who are on no due list
  fill out the snapshot, as a real one would.
* **Due lists**, one per township, mix encodings (one GB18030, one UTF-8 with BOM, the rest
  UTF-8), header languages, column orders, amount styles (``540.00`` or ``540``) and line
  ends, carry an extra ``序号`` column in the Chinese ones, white space and U+3000 around some
  cells, and a few bad rows (``DUE_DEFECTS``).
* **Paid elsewhere**: about 1 % of the residents with something to pay, chosen regardless of
  their registry rows, so most of them are also debit-able: a double payment happens when the
  paid list reaches the agency only after the bank has debited.
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from premium_debit.model.money import yuan_expr

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

# --- tunable shares (fractions of the residents) ---------------------------------------------
# Registry defects: each resident has at most one; the expected build outcome is in the comment.
REGISTRY_DEFECTS: Final[dict[str, float]] = {
    "no_registry_row": 0.015,  # NO_CARD_ACCOUNT: never applied for a card (newborns, migrants)
    "name_variant": 0.010,  # instructed: registry name differs only in a way §3 normalises away
    # (another middle dot, full-width letters; a plain Han name gets white space or U+3000
    # around the cell, which the reader strips)
    "name_mismatch": 0.005,  # NAME_MISMATCH: one character differs (a homophone, 伟/玮)
    "card_not_usable": 0.010,  # CARD_NOT_USABLE: the only card LOST or CANCELLED
    "replaced_card": 0.020,  # instructed: an old LOST/CANCELLED row plus the new NORMAL row
    "inactive": 0.020,  # ACCOUNT_NOT_ACTIVATED (未激活): the big real-world failure
    "frozen": 0.003,  # ACCOUNT_FROZEN
    "closed": 0.003,  # ACCOUNT_CLOSED
    "not_authorized": 0.010,  # NOT_AUTHORIZED: no withholding agreement signed
    "bad_luhn": 0.002,  # INVALID_ACCOUNT_NO: a mistyped account number (Luhn fails)
    "bank_not_configured": 0.001,  # BANK_NOT_CONFIGURED: account at UNCONFIGURED_BANK
    "ambiguous": 0.001,  # AMBIGUOUS_ACCOUNT: two usable accounts at two banks
}
# Due-list defects, on distinct residents.
DUE_DEFECTS: Final[dict[str, float]] = {
    "bad_person_id": 0.001,  # INVALID_PERSON_ID: the check character mistyped
    "bad_amount": 0.0002,  # INVALID_AMOUNT: one of BAD_AMOUNTS
    "duplicate_due": 0.0003,  # DUPLICATE_DUE: listed again in another township's file
}
# Special names, on distinct residents (Han names otherwise).
NAME_KINDS: Final[dict[str, float]] = {
    "rare_gbk": 0.001,  # a rare character that GBK still has (堃, 喆, 玥 …)
    "rare_not_gbk": 0.001,  # a rare character outside GBK (𠮷, 㙟, 䶮 …): fine in GB18030
    "dotted": 0.004,  # a minority name, parts joined by ·, • or ・
    "long": 0.0003,  # a transliteration of four long parts: ≥ 46 GBK bytes
    "latin": 0.0005,  # Latin letters and a Chinese surname, LUCY·王
}
PAID_SHARE: Final = 0.01  # of the residents with a non-zero amount: on the paid list
CENTS_SHARE: Final = 0.005  # of the non-zero amounts: an odd amount with cents (412.37)
REGISTRY_EXTRA_SHARE: Final = 0.03  # card holders on no due list (insured as employees)
LOWERCASE_X_SHARE: Final = 0.05  # of the due IDs ending in X: typed as x (valid, upper-cased)
PADDED_CELL_SHARE: Final = 0.005  # due-list names, IDs, villages and registry names padded
CHINESE_STATUS_SHARE: Final = 0.2  # registry rows with 正常/未激活/是 instead of ACTIVE/Y
BANK_WEIGHTS: Final[dict[str, float]] = {"NBCB": 0.45, "ICBC": 0.30, "FHRC": 0.25}
UNCONFIGURED_BANK: Final = "CCBX"
BAD_AMOUNTS: Final = ("540.001", "-5.00", "54O.00", "540,00", "5,400.00", "五百四十")

# --- reference data -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Township:
    name: str
    slug: str  # the due file's name
    weight: float  # share of the residents
    villages: tuple[str, ...]  # the first is the largest


_TOWNSHIPS: Final = (
    _Township(
        "西坞街道", "xiwu", 0.19, ("西坞村", "白杜村", "金峨村", "蒋家池头村", "尚桥村", "西坞社区")
    ),
    _Township("尚田镇", "shangtian", 0.12, ("尚田村", "方门村", "鸣雁村", "印家坑村", "杨家堰村")),
    _Township(
        "岳林街道",
        "yuelin",
        0.27,
        ("东门社区", "南门社区", "大成社区", "广平社区", "长汀村", "岳林村"),
    ),
    _Township(
        "莼湖镇", "chunhu", 0.18, ("莼湖村", "桐照村", "栖凤村", "鲒埼村", "湖头渡村", "缪家村")
    ),
    _Township("溪口镇", "xikou", 0.16, ("武岭社区", "岩头村", "畸山村", "班溪村", "三石村")),
    _Township("大堰镇", "dayan", 0.08, ("大堰村", "常照村", "董家村", "谢界山村", "后畈村")),
)
_VILLAGE_WEIGHTS: Final = (0.28, 0.22, 0.18, 0.14, 0.10, 0.08)
_VILLAGE_NAMES: Final = tuple(v for t in _TOWNSHIPS for v in t.villages)
_VILLAGE_FIRST: Final = tuple(
    sum(len(t.villages) for t in _TOWNSHIPS[:i]) for i in range(len(_TOWNSHIPS))
)

_CATEGORIES: Final = ("成年居民", "未成年人", "老年居民", "低保特困")
_CATEGORY_WEIGHTS: Final = (0.64, 0.20, 0.14, 0.02)
# Age range [low, high) in whole years on as_of, per category.
_AGES: Final = ((18, 60), (0, 18), (60, 100), (0, 95))
# (fen, weight) tiers per category: Ningbo-style individual contribution levels.
_AMOUNTS: Final = (
    ((54000, 0.55), (46000, 0.25), (38000, 0.20)),
    ((38000, 0.75), (30000, 0.25)),
    ((54000, 0.30), (46000, 0.30), (38000, 0.40)),
    ((0, 0.85), (19000, 0.15)),  # mostly fully subsidised (ZERO_DUE), some half
)

# GB/T 2260 region codes: Fenghua, the rest of Zhejiang, the provinces migrants come from.
_REGIONS: Final = (
    (330283, 0.925),
    (330203, 0.008),
    (330212, 0.010),
    (330281, 0.006),
    (330282, 0.005),
    (330226, 0.006),
    (330225, 0.004),
    (331081, 0.003),
    (330106, 0.003),
    (342422, 0.006),
    (412727, 0.005),
    (522121, 0.005),
    (511321, 0.004),
    (431322, 0.003),
    (500234, 0.003),
)
# Fenghua's code changed twice; an ID keeps the code of its first issue (SPEC §2.1 checks only
# the province for that reason): 330224 奉化县 (1983–1988), 330283 奉化市 (1989–2016),
# 330213 奉化区 (since 2016, so for the residents born since 2017).
_FENGHUA, _FENGHUA_OLD, _FENGHUA_NEW = 330283, 330224, 330213
_OLD_CODE_BEFORE: Final = 19890101  # born before: first ID possibly issued under 奉化县
_OLD_CODE_SHARE: Final = 0.35
_NEW_CODE_FROM: Final = 20170101
_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # ISO 7064 MOD 11-2
_CHECK_CHARS: Final = "10X98765432"

_SURNAMES: Final = (
    ("陈", 8.0),
    ("王", 7.0),
    ("张", 5.0),
    ("李", 4.0),
    ("周", 3.2),
    ("吴", 3.0),
    ("徐", 3.0),
    ("林", 2.5),
    ("胡", 2.5),
    ("应", 1.6),
    ("毛", 1.5),
    ("蒋", 1.5),
    ("朱", 1.4),
    ("孙", 1.3),
    ("杨", 1.3),
    ("刘", 1.3),
    ("黄", 1.2),
    ("俞", 1.2),
    ("董", 1.1),
    ("沈", 1.1),
    ("竺", 1.0),
    ("邬", 1.0),
    ("赵", 1.0),
    ("钱", 0.9),
    ("郑", 0.9),
    ("金", 0.9),
    ("方", 0.8),
    ("何", 0.8),
    ("叶", 0.8),
    ("汪", 0.7),
    ("马", 0.7),
    ("袁", 0.7),
    ("舒", 0.6),
    ("孔", 0.6),
    ("裘", 0.5),
    ("楼", 0.5),
    ("柴", 0.5),
    ("宋", 0.5),
    ("谢", 0.5),
    ("韩", 0.5),
    ("唐", 0.5),
    ("冯", 0.5),
    ("许", 0.5),
    ("曹", 0.4),
    ("彭", 0.4),
    ("曾", 0.4),
    ("吕", 0.4),
    ("苏", 0.4),
    ("卢", 0.4),
    ("蔡", 0.4),
    ("丁", 0.4),
    ("魏", 0.4),
    ("潘", 0.4),
    ("杜", 0.3),
    ("戴", 0.3),
    ("夏", 0.3),
    ("钟", 0.3),
    ("江", 0.3),
    ("顾", 0.3),
    ("邵", 0.3),
    ("范", 0.3),
    ("姚", 0.3),
    ("陆", 0.3),
    ("欧阳", 0.05),
    ("司马", 0.02),
    ("诸葛", 0.02),
)
_MALE_CHARS: Final = (
    "伟强军磊洋勇杰涛明超斌辉刚平波峰华建国文龙海鹏飞宇浩俊晨"
    "博亮林东志成忠良兵德永康昊轩睿泽宸嘉宁立新"
)
_FEMALE_CHARS: Final = (
    "芳娜敏静丽艳娟霞燕玲婷雪慧琳欣颖莉红英萍秀兰桂梅凤琴丹洁倩佳怡悦雨涵萱诗梓晴瑶可思彤玉"
)
_SINGLE_GIVEN_SHARE: Final = 0.25
# Homophones a clerk types instead (NAME_MISMATCH); other characters get a random one.
_HOMOPHONES: Final = dict(
    zip(
        "伟军明峰华杰斌静丽莉艳燕玲琳婷红英敏芳娟霞平波辉涛宇雨俊",
        "玮君铭锋桦洁彬婧莉丽燕艳琳林亭虹瑛民方鹃侠萍博晖韬雨宇骏",
        strict=True,
    )
)
_RARE_GBK: Final = ("堃", "喆", "玥", "赟", "珺", "昇", "镕", "垚", "淼", "犇")
_RARE_NOT_GBK: Final = ("𠮷", "㙟", "䶮", "䲜", "𡒄")
_DOTTED_PARTS: Final = (
    "阿依",
    "古丽",
    "买买提",
    "艾力",
    "努尔",
    "热依拉",
    "迪丽",
    "帕丽旦",
    "阿不都",
    "吐尔逊",
    "艾买提",
    "热合曼",
    "玉素甫",
    "依明",
    "阿力木",
    "米娜瓦尔",
    "阿迪力",
    "再努尔",
    "马木提",
)
_LONG_PARTS: Final = (
    "阿卜杜热合曼",
    "买买提艾力",
    "艾合买提江",
    "阿不都克里木",
    "努尔买买提",
    "阿布都沙拉木",
    "热依汗古丽",
    "阿依努尔汗",
    "吐尔逊阿依",
)
_LATIN: Final = ("LUCY", "ANNA", "MARIA", "DAVID", "JOHN", "EMMA", "SOPHIA", "PETER", "NINA")
# The canonical dot of a dotted name is one of the first three; a variant uses another.
_DOTS: Final = ("·", "•", "・", "‧", "･")
_DOT_WEIGHTS: Final = (0.7, 0.15, 0.15)
_PADS: Final = (("\u3000", ""), ("", "\u3000"), (" ", ""), ("", " "), ("\u3000", "\u3000"))
_ASCII = "".join(chr(c) for c in range(0x21, 0x7F))
_FULLWIDTH = "".join(chr(c + 0xFEE0) for c in range(0x21, 0x7F))

# Account number prefixes: (bank, prefix, length). Bank-typical BINs; lengths 16 to 19.
_PREFIXES: Final = (
    ("NBCB", 623058, 19),
    ("NBCB", 622281, 16),
    ("ICBC", 622202, 19),
    ("ICBC", 621226, 19),
    ("ICBC", 621558, 19),
    ("FHRC", 621336, 19),
    ("FHRC", 623166, 18),
    (UNCONFIGURED_BANK, 621700, 19),
)
_CARD_LETTERS: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_ACCOUNT_STATUS: Final = (
    ("ACTIVE", "正常"),
    ("INACTIVE", "未激活"),
    ("FROZEN", "冻结"),
    ("CLOSED", "销户"),
)
_CARD_STATUS: Final = (("NORMAL", "正常"), ("LOST", "挂失"), ("CANCELLED", "注销"))
_AUTHORIZED: Final = (("N", "否"), ("Y", "是"))
_CHANNELS: Final = (
    ("APP", 0.40),
    ("COUNTER", 0.30),
    ("BANK", 0.20),
    ("浙里办", 0.05),
    ("支付宝", 0.05),
)
_PAID_WITHIN_DAYS: Final = 60
_CHUNK_ROWS: Final = 500_000  # registry rows turned into text and written at a time


@dataclass(frozen=True)
class _DueFile:
    """How one township's clerk exports the due list."""

    encoding: str  # utf-8, utf-8-sig (with BOM) or gb18030
    columns: tuple[str, ...]  # canonical names in file order; "seq" is the extra 序号 column
    chinese: bool  # Chinese headers
    whole_yuan: bool  # 540 instead of 540.00 when there are no cents
    crlf: bool


_EN = ("person_id", "name", "township", "village", "category", "period", "amount_due")
_ZH_HEADER: Final = {
    "seq": "序号",
    "person_id": "公民身份号码",
    "name": "姓名",
    "township": "镇街",
    "village": "村社区",
    "category": "参保类别",
    "period": "缴费年度",
    "amount_due": "应缴金额",
}
_ZH = ("seq", "name", "person_id", "township", "village", "category", "amount_due", "period")
_DUE_FILES: Final = (
    _DueFile("utf-8", _EN, chinese=False, whole_yuan=False, crlf=False),
    _DueFile("gb18030", _ZH, chinese=True, whole_yuan=False, crlf=True),
    _DueFile(
        "utf-8",
        ("township", "village", "person_id", "name", "category", "period", "amount_due"),
        chinese=False,
        whole_yuan=False,
        crlf=False,
    ),
    _DueFile("utf-8-sig", _ZH, chinese=True, whole_yuan=True, crlf=True),
    _DueFile("utf-8", _ZH, chinese=True, whole_yuan=False, crlf=False),
    _DueFile("utf-8", _EN, chinese=False, whole_yuan=True, crlf=False),
)


@dataclass(frozen=True)
class CampaignFiles:
    """The files of one generated campaign."""

    due: list[Path]  # one due list per township, in configuration order
    registry: Path  # the card account registry, a full snapshot
    paid: Path  # the paid-elsewhere list
    residents: int  # distinct residents on the due lists


def planned_counts(residents: int) -> dict[str, int]:
    """The exact number of residents each defect, special name and list is planted on.

    Keys: those of ``REGISTRY_DEFECTS``, ``DUE_DEFECTS`` and ``NAME_KINDS``, plus
    ``paid_elsewhere`` (at most the residents with a non-zero amount) and ``registry_extra``.
    """
    counts = {
        key: _share(share, residents)
        for table in (REGISTRY_DEFECTS, DUE_DEFECTS, NAME_KINDS)
        for key, share in table.items()
    }
    counts["paid_elsewhere"] = _share(PAID_SHARE, residents)
    counts["registry_extra"] = _share(REGISTRY_EXTRA_SHARE, residents)
    return counts


def generate_campaign(
    out_dir: Path,
    *,
    residents: int = 120_000,
    seed: int = 2027,
    period: int = 2027,
    as_of: date = date(2026, 11, 29),
) -> CampaignFiles:
    """Write a campaign's due lists, registry and paid list into ``out_dir`` (created if needed)."""
    if residents < 1:
        raise ValueError("residents must be at least 1")
    counts = planned_counts(residents)
    for table in (REGISTRY_DEFECTS, DUE_DEFECTS, NAME_KINDS):
        if sum(counts[k] for k in table) > residents:  # pragma: no cover - shares are small
            raise ValueError("defect shares add up to more than the residents")
    rng = np.random.default_rng(seed)
    people = _draw_people(rng, residents, counts, as_of)

    out_dir.mkdir(parents=True, exist_ok=True)
    registry = _write_registry(rng, out_dir / "registry.csv", people, counts)
    due = _write_due(rng, out_dir, people, counts, period=period)
    paid = _write_paid(rng, out_dir / "paid.csv", people, counts, period=period, as_of=as_of)
    return CampaignFiles(due=due, registry=registry, paid=paid, residents=residents)


@dataclass(frozen=True)
class _People:
    """Everyone in the registry: the residents first, then the card holders on no due list."""

    residents: int
    person_id: pl.Series  # valid IDs
    check: Ints  # index of each ID's check character in _CHECK_CHARS
    name: pl.Series  # as the due list spells it
    name_kind: Ints  # 0 Han, else 1 + index in NAME_KINDS
    dot: Ints  # index in _DOTS of a dotted name's dot
    township: Ints  # index in _TOWNSHIPS
    village: Ints  # index in _VILLAGE_NAMES
    category: Ints  # index in _CATEGORIES
    fen: Ints  # amount due


def _draw_people(
    rng: np.random.Generator, residents: int, counts: dict[str, int], as_of: date
) -> _People:
    """The residents and the extra card holders: where they live, who they are, what they owe."""
    total = residents + counts["registry_extra"]
    township = _draw(rng, [t.weight for t in _TOWNSHIPS], total)
    village = _villages(rng, township)
    category = _draw(rng, _CATEGORY_WEIGHTS, total)
    body, check = _person_ids(rng, _birth_days(rng, category, as_of))
    person_id = pl.Series(body).cast(pl.String) + _pick(_CHECK_CHARS, check)
    name_kind = np.zeros(total, np.int64)
    name_kind[:residents] = _assign(rng, residents, [counts[k] for k in NAME_KINDS])
    name, dot = _names(rng, body % 2 == 1, name_kind)  # the 17th digit is odd for men
    fen = _amounts(rng, category)
    return _People(
        residents=residents,
        person_id=person_id,
        check=check,
        name=name,
        name_kind=name_kind,
        dot=dot,
        township=township,
        village=village,
        category=category,
        fen=fen,
    )


# --- draws ----------------------------------------------------------------------------------


def _share(share: float, n: int) -> int:
    """``round(share × n)``, halves up (not Python's banker's rounding)."""
    return math.floor(share * n + 0.5)


def _draw(rng: np.random.Generator, weights: Sequence[float], n: int) -> Ints:
    """``n`` indices into ``weights``, drawn with those (normalised) weights."""
    cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
    cumulative /= cumulative[-1]
    index = np.searchsorted(cumulative, rng.random(n), side="right")
    return np.minimum(index, len(weights) - 1).astype(np.int64)


def _assign(rng: np.random.Generator, n: int, counts: Sequence[int]) -> Ints:
    """Labels 1..k on exactly ``counts[k-1]`` random positions each, 0 elsewhere."""
    labels = np.zeros(n, np.int64)
    order = rng.permutation(n)
    start = 0
    for label, count in enumerate(counts, start=1):
        labels[order[start : start + count]] = label
        start += count
    return labels


def _pick(pool: Sequence[str] | str, index: Ints) -> pl.Series:
    """The strings of ``pool`` at ``index``, as a polars String series."""
    return pl.Series(list(pool), dtype=pl.String).gather(index)


def _villages(rng: np.random.Generator, township: Ints) -> Ints:
    """A village of each resident's township (an index into ``_VILLAGE_NAMES``), the first
    villages of a township the most populous."""
    index = np.zeros(township.size, np.int64)
    for t, spec in enumerate(_TOWNSHIPS):
        where = np.flatnonzero(township == t)
        weights = _VILLAGE_WEIGHTS[: len(spec.villages)]
        index[where] = _VILLAGE_FIRST[t] + _draw(rng, weights, where.size)
    return index


def _years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 February becomes the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _birth_days(rng: np.random.Generator, category: Ints, as_of: date) -> Ints:
    """Birth dates (days since 1970-01-01) with the age on ``as_of`` in the category's range.

    Ages are uniform within the range except for the elderly, who thin out with age.
    """
    epoch = date(1970, 1, 1)
    earliest = (date(1900, 1, 1) - epoch).days
    birth = np.zeros(category.size, np.int64)
    for c, (young, old) in enumerate(_AGES):
        where = np.flatnonzero(category == c)
        # Age ≥ young ⇔ born on or before as_of − young years; age < old ⇔ after as_of − old.
        latest = (_years_before(as_of, young) - epoch).days - (1 if young == 0 else 0)
        first = max((_years_before(as_of, old) - epoch).days + 1, earliest)
        u = rng.random(where.size)
        if c == _CATEGORIES.index("老年居民"):
            u = 1 - np.sqrt(1 - u)  # density falling linearly from age 60 to 100
        birth[where] = latest - np.floor(u * (latest - first + 1)).astype(np.int64)
    return birth


def _person_ids(rng: np.random.Generator, birth: Ints) -> tuple[Ints, Ints]:
    """Unique 17-digit ID bodies (region, birth date, sequence) and their check indices.

    Residents sharing a region and birth date get distinct sequence numbers in one pass: the
    k-th of a group gets ``(o + k·s) mod 1000`` with a random offset ``o`` and a random step
    ``s`` prime to 1000 per group — a bijection, so no clash is possible and no retry needed.
    """
    n = birth.size
    days = birth.astype("datetime64[D]")
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    mdays = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    ymd = years * 10_000 + months * 100 + mdays
    regions = np.asarray([r for r, _ in _REGIONS], dtype=np.int64)
    region = regions[_draw(rng, [w for _, w in _REGIONS], n)]
    fenghua = region == _FENGHUA
    region[fenghua & (ymd < _OLD_CODE_BEFORE) & (rng.random(n) < _OLD_CODE_SHARE)] = _FENGHUA_OLD
    region[fenghua & (ymd >= _NEW_CODE_FROM)] = _FENGHUA_NEW
    key = region * 10**8 + ymd
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    sizes = np.diff(np.append(starts, n))
    if sizes.max(initial=0) > 1000:  # pragma: no cover - a thousand births a day in a county
        raise ValueError("cannot make the resident IDs unique: too many residents")
    group = np.repeat(np.arange(starts.size), sizes)
    rank = np.arange(n, dtype=np.int64) - starts[group]
    offset = rng.integers(0, 1000, starts.size)
    steps = np.asarray([s for s in range(1, 1000) if s % 2 and s % 5], dtype=np.int64)
    step = steps[rng.integers(0, steps.size, starts.size)]
    seq = np.zeros(n, np.int64)
    seq[order] = (offset[group] + rank * step[group]) % 1000
    body = key * 1000 + seq
    total = np.zeros(n, np.int64)
    rest = body.copy()
    for weight in reversed(_WEIGHTS):
        total += rest % 10 * weight
        rest //= 10
    return body, total % 11


def _names(rng: np.random.Generator, male: Bools, kind: Ints) -> tuple[pl.Series, Ints]:
    """Each person's name and, for dotted and long names, the index of its dot in ``_DOTS``.

    ``kind`` is 0 for a Han name, else 1 + the index of the kind in ``NAME_KINDS``.
    """
    n = male.size
    surname = _pick([s for s, _ in _SURNAMES], _draw(rng, [w for _, w in _SURNAMES], n))
    pool = _MALE_CHARS + _FEMALE_CHARS
    offset = np.where(male, 0, len(_MALE_CHARS))
    size = np.where(male, len(_MALE_CHARS), len(_FEMALE_CHARS))
    first = offset + np.floor(rng.random(n) * size).astype(np.int64)
    second = offset + np.floor(rng.random(n) * size).astype(np.int64)
    second = np.where(rng.random(n) < _SINGLE_GIVEN_SHARE, len(pool), second)
    name = surname + _pick(pool, first) + _pick([*pool, ""], second)
    dot = np.zeros(n, np.int64)

    kinds = list(NAME_KINDS)
    for k, key in enumerate(kinds, start=1):
        where = np.flatnonzero(kind == k)
        m = where.size
        if key in ("rare_gbk", "rare_not_gbk"):
            chars = _RARE_GBK if key == "rare_gbk" else _RARE_NOT_GBK
            values = name.gather(where).str.head(-1) + _pick(chars, rng.integers(0, len(chars), m))
        elif key == "dotted":
            dot[where] = _draw(rng, _DOT_WEIGHTS, m)
            sep = _pick(_DOTS, dot[where])
            parts = [_pick(_DOTTED_PARTS, rng.integers(0, len(_DOTTED_PARTS), m)) for _ in "abc"]
            third = pl.Series(rng.random(m) < 0.3)
            tail = pl.select(pl.when(third).then(sep + parts[2]).otherwise(pl.lit(""))).to_series()
            values = parts[0] + sep + parts[1] + tail
        elif key == "long":  # four parts of ≥ 5 characters and three dots: ≥ 46 GBK bytes
            parts = [_pick(_LONG_PARTS, rng.integers(0, len(_LONG_PARTS), m)) for _ in "abcd"]
            values = parts[0] + "·" + parts[1] + "·" + parts[2] + "·" + parts[3]
        else:  # latin
            values = _pick(_LATIN, rng.integers(0, len(_LATIN), m)) + "·" + surname.gather(where)
        name.scatter(where, values)
    return name, dot


def _amounts(rng: np.random.Generator, category: Ints) -> Ints:
    """The amount due in fen: the category's tiers, a few odd amounts with cents."""
    fen = np.zeros(category.size, np.int64)
    for c, tiers in enumerate(_AMOUNTS):
        where = np.flatnonzero(category == c)
        levels = np.asarray([f for f, _ in tiers], dtype=np.int64)
        fen[where] = levels[_draw(rng, [w for _, w in tiers], where.size)]
    paying = np.flatnonzero(fen > 0)
    odd = rng.permutation(paying)[: _share(CENTS_SHARE, paying.size)]
    fen[odd] = rng.integers(300, 540, odd.size) * 100 + rng.integers(1, 100, odd.size)
    return fen


def _luhn_check(payload: Ints) -> Ints:
    """The Luhn check digit to append to each payload (at most 18 digits)."""
    total = np.zeros(payload.size, np.int64)
    rest = payload.copy()
    for position in range(18):  # from the right; the rightmost payload digit is doubled
        digit = rest % 10
        rest //= 10
        if position % 2 == 0:
            digit = digit * 2
            digit = np.where(digit > 9, digit - 9, digit)
        total += digit
    return (10 - total % 10) % 10


def _pad_plan(rng: np.random.Generator, n: int, share: float) -> Ints:
    """For each of ``n`` cells: 0 to leave it, else 1 + the index in ``_PADS`` of the white
    space put around it (a share ``share`` of the cells)."""
    plan = np.zeros(n, np.int64)
    where = np.flatnonzero(rng.random(n) < share)
    plan[where] = rng.integers(1, len(_PADS) + 1, where.size)
    return plan


def _padded(values: pl.Series, plan: Ints) -> pl.Series:
    """``values`` with the white space of ``plan`` (see ``_pad_plan``) around its cells."""
    where = np.flatnonzero(plan)
    if where.size == 0:
        return values
    choice = plan[where] - 1
    padded = (
        _pick([p[0] for p in _PADS], choice)
        + values.gather(where)
        + _pick([p[1] for p in _PADS], choice)
    )
    values = values.clone()
    values.scatter(where, padded)
    return values


# --- registry -------------------------------------------------------------------------------


def _registry_names(
    rng: np.random.Generator, name: pl.Series, name_kind: Ints, dot: Ints, defect: Ints
) -> pl.Series:
    """The registry's spelling of each name: the due list's, but for the name defects."""
    keys = list(REGISTRY_DEFECTS)
    reg = name.clone()
    # Variants that §3's normalisation undoes: another dot, full-width letters, padding.
    variant = defect == keys.index("name_variant") + 1
    kinds = list(NAME_KINDS)
    dotted = variant & np.isin(name_kind, [kinds.index("dotted") + 1, kinds.index("long") + 1])
    latin = variant & (name_kind == kinds.index("latin") + 1)
    if dotted.any():
        where = np.flatnonzero(dotted)
        alt = (dot[where] + rng.integers(1, len(_DOTS), where.size)) % len(_DOTS)
        for a, char in enumerate(_DOTS):  # a loop over the five dot characters
            sub = where[alt == a]
            reg.scatter(sub, reg.gather(sub).str.replace_all("[·•・]", char))
    if latin.any():
        where = np.flatnonzero(latin)
        reg.scatter(where, reg.gather(where).str.replace_many(list(_ASCII), list(_FULLWIDTH)))
    plain = np.flatnonzero(variant & ~dotted & ~latin)
    plan = np.zeros(reg.len(), np.int64)
    plan[plain] = rng.integers(1, len(_PADS) + 1, plain.size)
    reg = _padded(reg, plan)
    # A true mismatch: the last character replaced by a homophone or another character.
    where = np.flatnonzero(defect == keys.index("name_mismatch") + 1)
    if where.size:
        pool = _MALE_CHARS + _FEMALE_CHARS
        shift = rng.integers(0, len(pool), where.size)
        frame = pl.DataFrame(
            {
                "name": reg.gather(where),
                "alt1": _pick(pool, shift),
                "alt2": _pick(pool, (shift + 1) % len(pool)),
            }
        )
        last = pl.col("name").str.slice(-1)
        other = pl.when(pl.col("alt1") != last).then("alt1").otherwise("alt2")
        changed = frame.select(
            pl.col("name").str.head(-1)
            + pl.coalesce(last.replace_strict(_HOMOPHONES, default=None), other)
        ).to_series()
        reg.scatter(where, changed)
    return reg


def _write_registry(
    rng: np.random.Generator, path: Path, people: _People, counts: dict[str, int]
) -> Path:
    """The card account snapshot: one row per card, a second for replaced cards and the
    ambiguous, defects planted per ``REGISTRY_DEFECTS``; rows in no particular order."""
    total = people.person_id.len()
    residents = people.residents
    keys = list(REGISTRY_DEFECTS)

    def kind(key: str) -> int:
        return keys.index(key) + 1

    defect = np.zeros(total, np.int64)
    defect[:residents] = _assign(rng, residents, [counts[k] for k in keys])
    reg_name = _registry_names(rng, people.name, people.name_kind, people.dot, defect)

    banks = [*BANK_WEIGHTS, UNCONFIGURED_BANK]
    bank = _draw(rng, list(BANK_WEIGHTS.values()), total)
    bank[defect == kind("bank_not_configured")] = len(BANK_WEIGHTS)
    primary = np.flatnonzero(defect != kind("no_registry_row"))
    replaced = np.flatnonzero(defect == kind("replaced_card"))
    ambiguous = np.flatnonzero(defect == kind("ambiguous"))
    person = np.concatenate([primary, replaced, ambiguous])
    n_rows = person.size
    n_primary = primary.size

    # Primary rows: the person's current card, with the defect.
    pd = defect[primary]
    card = np.zeros(n_rows, np.int64)  # index into _CARD_STATUS
    lost = np.flatnonzero(pd == kind("card_not_usable"))
    card[lost] = np.where(rng.random(lost.size) < 0.7, 1, 2)
    status = np.zeros(n_rows, np.int64)  # index into _ACCOUNT_STATUS
    for key, value in (("inactive", 1), ("frozen", 2), ("closed", 3)):
        status[:n_primary][pd == kind(key)] = value
    authorized = np.ones(n_rows, np.int64)
    authorized[:n_primary][pd == kind("not_authorized")] = 0
    row_bank = bank[person]
    # Replaced cards: the old card LOST or CANCELLED, mostly at the same bank.
    old = slice(n_primary, n_primary + replaced.size)
    card[old] = np.where(rng.random(replaced.size) < 0.6, 1, 2)
    moved = rng.random(replaced.size) < 0.2
    row_bank[old] = np.where(moved, (row_bank[old] + 1) % 3, row_bank[old])
    # Ambiguous: a second usable account at another configured bank.
    second = slice(n_primary + replaced.size, n_rows)
    row_bank[second] = (row_bank[second] + rng.integers(1, 3, ambiguous.size)) % 3
    bad_luhn = np.zeros(n_rows, np.bool_)
    bad_luhn[:n_primary] = pd == kind("bad_luhn")

    order = rng.permutation(n_rows)  # the snapshot comes sorted by nothing we know
    person, card, status = person[order], card[order], status[order]
    authorized, row_bank, bad_luhn = authorized[order], row_bank[order], bad_luhn[order]
    account = _accounts(rng, row_bank, bad_luhn, banks)
    card_letter = rng.integers(0, len(_CARD_LETTERS), n_rows)
    card_digits = _permuted(rng, n_rows, 8)
    chinese = (rng.random(n_rows) < CHINESE_STATUS_SHARE).astype(np.int64)
    name_pad = _pad_plan(rng, n_rows, PADDED_CELL_SHARE)

    account_status = [s for pair in _ACCOUNT_STATUS for s in pair]
    card_status = [s for pair in _CARD_STATUS for s in pair]
    yes_no = [s for pair in _AUTHORIZED for s in pair]
    # The text is built and written a chunk of rows at a time: memory stays flat at any size.
    with path.open("wb") as out:
        for start in range(0, max(n_rows, 1), _CHUNK_ROWS):
            rows = slice(start, start + _CHUNK_ROWS)
            frame = pl.DataFrame(
                {
                    "person_id": people.person_id.gather(person[rows]),
                    "name": _padded(reg_name.gather(person[rows]), name_pad[rows]),
                    "card_no": _pick(_CARD_LETTERS, card_letter[rows])
                    + pl.Series(card_digits[rows]).cast(pl.String).str.zfill(8),
                    "bank_code": _pick(banks, row_bank[rows]),
                    "account_no": pl.Series(account[rows]).cast(pl.String),
                    "account_status": _pick(account_status, status[rows] * 2 + chinese[rows]),
                    "card_status": _pick(card_status, card[rows] * 2 + chinese[rows]),
                    "authorized": _pick(yes_no, authorized[rows] * 2 + chinese[rows]),
                }
            )
            frame.write_csv(out, include_header=start == 0, line_terminator="\n")
    return path


def _permuted(rng: np.random.Generator, n: int, digits: int) -> Ints:
    """``n`` distinct numbers below 10**digits that look random: an affine bijection of 0..n-1.

    ``a·i + b mod 10**d`` is a bijection when ``a`` is prime to 10, so distinct row numbers
    give distinct account and card numbers without any uniqueness check.
    """
    modulus = 10**digits
    if n > modulus:  # pragma: no cover - 10**8 cards
        raise ValueError(f"more than {modulus} numbers of {digits} digits requested")
    a = int(rng.integers(1, modulus // 10)) * 10 + int(rng.choice([1, 3, 7, 9]))
    b = int(rng.integers(0, modulus))
    values: Ints = (np.arange(n, dtype=np.int64) * a + b) % modulus
    return values


def _accounts(rng: np.random.Generator, bank: Ints, bad_luhn: Bools, banks: Sequence[str]) -> Ints:
    """Distinct account numbers with a bank-typical prefix and length and a Luhn check digit
    (a wrong one where ``bad_luhn``)."""
    payload = np.zeros(bank.size, np.int64)
    for b, code in enumerate(banks):  # a loop over the banks and their few prefixes
        where = np.flatnonzero(bank == b)
        prefixes = [(p, length) for c, p, length in _PREFIXES if c == code]
        choice = rng.integers(0, len(prefixes), where.size)
        for i, (prefix, length) in enumerate(prefixes):
            sub = where[choice == i]
            middle = length - 1 - len(str(prefix))
            payload[sub] = prefix * 10**middle + _permuted(rng, sub.size, middle)
    check = _luhn_check(payload)
    check = np.where(bad_luhn, (check + rng.integers(1, 10, bank.size)) % 10, check)
    account: Ints = payload * 10 + check
    return account


# --- due lists and paid list ------------------------------------------------------------------


def _write_due(
    rng: np.random.Generator, out_dir: Path, people: _People, counts: dict[str, int], *, period: int
) -> list[Path]:
    """One due list per township, in the township's own export style (``_DUE_FILES``)."""
    n = people.residents
    keys = list(DUE_DEFECTS)
    defect = _assign(rng, n, [counts[k] for k in keys])
    check, fen = people.check[:n], people.fen[:n]
    # A mistyped check character; a valid X sometimes typed as x.
    ids = people.person_id[:n].clone()
    bad_id = np.flatnonzero(defect == keys.index("bad_person_id") + 1)
    wrong = (check[bad_id] + rng.integers(1, 11, bad_id.size)) % 11
    ids.scatter(bad_id, ids.gather(bad_id).str.head(-1) + _pick(_CHECK_CHARS, wrong))
    ex = np.flatnonzero((check == 2) & (rng.random(n) < LOWERCASE_X_SHARE) & (defect == 0))
    ids.scatter(ex, ids.gather(ex).str.to_lowercase())
    ids = _padded(ids, _pad_plan(rng, n, PADDED_CELL_SHARE))
    names = _padded(people.name[:n], _pad_plan(rng, n, PADDED_CELL_SHARE))

    amount = pl.select(yuan_expr(pl.lit(pl.Series(fen)))).to_series()
    bad_amount = np.flatnonzero(defect == keys.index("bad_amount") + 1)
    bad_text = _pick(BAD_AMOUNTS, rng.integers(0, len(BAD_AMOUNTS), bad_amount.size))
    amount.scatter(bad_amount, bad_text)
    # What a "540"-style export writes: whole yuan without decimals, anything else as is.
    whole = pl.select(
        pl.when(pl.lit(pl.Series(fen % 100 == 0)))
        .then(pl.lit(pl.Series(fen // 100)).cast(pl.String))
        .otherwise(pl.lit(amount))
    ).to_series()
    whole.scatter(bad_amount, bad_text)

    # A resident who moved is listed again by another township, in one of its villages.
    dup = np.flatnonzero(defect == keys.index("duplicate_due") + 1)
    other = (people.township[dup] + rng.integers(1, len(_TOWNSHIPS), dup.size)) % len(_TOWNSHIPS)
    person = np.concatenate([np.arange(n, dtype=np.int64), dup])
    town = np.concatenate([people.township[:n], other])
    village = np.concatenate([people.village[:n], _villages(rng, other)])
    village_pad = _pad_plan(rng, person.size, PADDED_CELL_SHARE)
    # Villages are numbered township by township: one sort orders every file.
    rows = np.lexsort((np.arange(person.size), village))

    paths: list[Path] = []
    for t, (spec, style) in enumerate(zip(_TOWNSHIPS, _DUE_FILES, strict=True)):
        part = rows[town[rows] == t]
        p = person[part]
        m = part.size
        frame = pl.DataFrame(
            {
                "seq": pl.int_range(1, m + 1, eager=True).cast(pl.String),
                "person_id": ids.gather(p),
                "name": names.gather(p),
                "township": _pick([spec.name], np.zeros(m, np.int64)),
                "village": _padded(_pick(_VILLAGE_NAMES, village[part]), village_pad[part]),
                "category": _pick(_CATEGORIES, people.category[p]),
                "period": _pick([str(period)], np.zeros(m, np.int64)),
                "amount_due": (whole if style.whole_yuan else amount).gather(p),
            }
        )
        out = frame.select(
            [pl.col(c).alias(_ZH_HEADER[c] if style.chinese else c) for c in style.columns]
        )
        path = out_dir / f"due_{period}_{spec.slug}.csv"
        _write_csv(out, path, encoding=style.encoding, crlf=style.crlf)
        paths.append(path)
    return paths


def _write_paid(
    rng: np.random.Generator,
    path: Path,
    people: _People,
    counts: dict[str, int],
    *,
    period: int,
    as_of: date,
) -> Path:
    """The paid-elsewhere list: residents with something due who paid at a counter, in an
    app or at a bank in the weeks before ``as_of``; Chinese headers."""
    person_id, fen = people.person_id, people.fen
    paying = np.flatnonzero(fen[: people.residents] > 0)
    chosen = np.sort(rng.permutation(paying)[: counts["paid_elsewhere"]])
    m = chosen.size
    first = as_of - timedelta(days=_PAID_WITHIN_DAYS)
    paid_at = pl.Series(
        (first - date(1970, 1, 1)).days + rng.integers(0, _PAID_WITHIN_DAYS, m), dtype=pl.Int32
    ).cast(pl.Date)
    frame = pl.DataFrame(
        {
            "公民身份号码": person_id.gather(chosen),
            "缴费年度": pl.Series([str(period)]).gather(np.zeros(m, np.int64)),
            "缴费金额": pl.select(yuan_expr(pl.lit(pl.Series(fen[chosen])))).to_series(),
            "缴费渠道": _pick([c for c, _ in _CHANNELS], _draw(rng, [w for _, w in _CHANNELS], m)),
            "缴费日期": paid_at.dt.strftime("%Y-%m-%d"),
        }
    ).sort("缴费日期", "公民身份号码")
    _write_csv(frame, path)
    return path


def _write_csv(
    frame: pl.DataFrame, path: Path, *, encoding: str = "utf-8", crlf: bool = False
) -> None:
    """``frame`` as CSV in ``encoding`` (utf-8, utf-8-sig for a BOM, or a legacy codec)."""
    terminator = "\r\n" if crlf else "\n"
    if encoding in ("utf-8", "utf-8-sig"):
        with path.open("wb") as out:  # polars writes UTF-8 straight to the file
            if encoding == "utf-8-sig":
                out.write(codecs.BOM_UTF8)
            frame.write_csv(out, line_terminator=terminator)
    else:
        path.write_bytes(frame.write_csv(line_terminator=terminator).encode(encoding))
