"""The campaign generator: reproducible bytes, valid IDs and accounts, exactly the planted defects,
files the tabular reader accepts."""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from stdnum import luhn, numdb
from stdnum.cn import ric

import premium_debit
from premium_debit.formats.tabular import DUE_COLUMNS, PAID_COLUMNS, REGISTRY_COLUMNS, read_table
from premium_debit.model.ids import PROVINCES, person_id_valid
from premium_debit.model.money import AMOUNT_PATTERN, fen_expr
from premium_debit.model.names import normalise_name
from premium_debit.simulate import generate
from premium_debit.simulate.generate import (
    NAME_KINDS,
    REGISTRY_DEFECTS,
    UNCONFIGURED_BANK,
    CampaignFiles,
    generate_campaign,
    planned_counts,
)

N = 20_000
SMALL = 2_000
AS_OF = date(2026, 11, 29)
PLANNED = planned_counts(N)
SAMPLE = tomllib.loads((Path(premium_debit.__file__).parent / "sample_config.toml").read_text())
TOWNSHIPS = [t["name"] for t in SAMPLE["townships"]]
CATEGORIES = SAMPLE["categories"]["names"]


def _files(folder: Path) -> dict[str, bytes]:
    """Every file of a folder by name, as bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> CampaignFiles:
    return generate_campaign(tmp_path_factory.mktemp("campaign"), residents=N)


@pytest.fixture(scope="module")
def due(campaign: CampaignFiles) -> pl.DataFrame:
    """All due rows, with the file they came from, the upper-cased ID and its 17-digit body."""
    frames = [
        read_table(path, DUE_COLUMNS).with_columns(file=pl.lit(i))
        for i, path in enumerate(campaign.due)
    ]
    return pl.concat(frames).with_columns(
        pid=pl.col("person_id").str.to_uppercase(), body=pl.col("person_id").str.head(17)
    )


@pytest.fixture(scope="module")
def registry(campaign: CampaignFiles) -> pl.DataFrame:
    return read_table(campaign.registry, REGISTRY_COLUMNS).with_columns(
        body=pl.col("person_id").str.head(17)
    )


@pytest.fixture(scope="module")
def paid(campaign: CampaignFiles) -> pl.DataFrame:
    return read_table(campaign.paid, PAID_COLUMNS)


def test_generate__same_arguments_same_bytes(tmp_path: Path) -> None:
    """Two runs with the same arguments write the same files, byte for byte."""
    first = generate_campaign(tmp_path / "a", residents=SMALL, seed=7)
    second = generate_campaign(tmp_path / "b", residents=SMALL, seed=7)
    assert [p.name for p in first.due] == [p.name for p in second.due]
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_generate__other_seed_other_residents(tmp_path: Path) -> None:
    """Another seed draws other residents: no registry line in common but the header."""
    one = generate_campaign(tmp_path / "a", residents=SMALL, seed=1)
    two = generate_campaign(tmp_path / "b", residents=SMALL, seed=2)
    lines_one = set(one.registry.read_text().splitlines())
    lines_two = set(two.registry.read_text().splitlines())
    assert lines_one & lines_two == {
        "person_id,name,card_no,bank_code,account_no,account_status,card_status,authorized"
    }


def test_generate__registry_bytes_do_not_depend_on_chunk_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry written 333 rows at a time is the registry written in one piece."""
    whole = generate_campaign(tmp_path / "whole", residents=SMALL)
    monkeypatch.setattr(generate, "_CHUNK_ROWS", 333)
    chunked = generate_campaign(tmp_path / "chunked", residents=SMALL)
    assert chunked.registry.read_bytes() == whole.registry.read_bytes()


def test_generate__file_names_and_row_counts(
    campaign: CampaignFiles, due: pl.DataFrame, registry: pl.DataFrame, paid: pl.DataFrame
) -> None:
    """Six due lists hold every resident once plus the planted duplicates; the registry one row
    per card holder plus a row per replaced card and ambiguous second account."""
    slugs = ["xiwu", "shangtian", "yuelin", "chunhu", "xikou", "dayan"]
    assert [p.name for p in campaign.due] == [f"due_2027_{s}.csv" for s in slugs]
    assert campaign.residents == N
    assert due.height == N + PLANNED["duplicate_due"]
    assert registry.height == (
        N
        - PLANNED["no_registry_row"]
        + PLANNED["registry_extra"]
        + PLANNED["replaced_card"]
        + PLANNED["ambiguous"]
    )
    assert paid.height == PLANNED["paid_elsewhere"] == 200


def test_generate__due_encodings_and_headers(campaign: CampaignFiles) -> None:
    """One due list is GB18030, one UTF-8 with BOM, four UTF-8; headers Chinese or English,
    in several orders, the Chinese ones with an extra 序号 column."""
    found = []
    for path in campaign.due:
        raw = path.read_bytes()
        if raw.startswith(b"\xef\xbb\xbf"):
            encoding, text = "utf-8-sig", raw[3:].decode("utf-8")
        else:
            try:
                encoding, text = "utf-8", raw.decode("utf-8")
            except UnicodeDecodeError:
                encoding, text = "gb18030", raw.decode("gb18030")
        found.append((encoding, text.split("\n", 1)[0]))
    zh = "序号,姓名,公民身份号码,镇街,村社区,参保类别,应缴金额,缴费年度"
    en = "person_id,name,township,village,category,period,amount_due"
    assert found == [
        ("utf-8", en),
        ("gb18030", zh + "\r"),
        ("utf-8", "township,village,person_id,name,category,period,amount_due"),
        ("utf-8-sig", zh + "\r"),
        ("utf-8", zh),
        ("utf-8", en),
    ]


def test_generate__person_ids_valid_per_stdnum_except_planted(due: pl.DataFrame) -> None:
    """Every due ID but the planted typos has stdnum's check digit and birth date and names a
    county stdnum knows; our own rule agrees on exactly which IDs are bad."""
    places = numdb.get("cn/loc")
    pids = due.get_column("pid").to_list()
    for region in {pid[:6] for pid in pids}:
        assert region[:2] in PROVINCES
        assert any("county" in props for _, props in places.info(region)), region
    bad = [pid for pid in pids if ric.calc_check_digit(pid) != pid[-1]]
    assert max(ric.get_birth_date(pid) for pid in pids) <= AS_OF
    assert len(bad) == PLANNED["bad_person_id"] == 20
    ours = due.filter(~person_id_valid(pl.col("pid"), AS_OF)).get_column("pid")
    assert sorted(ours.to_list()) == sorted(bad)


def test_generate__person_ids_unique_but_planted_duplicates(due: pl.DataFrame) -> None:
    """Each resident has an ID of their own; the planted duplicates appear in exactly two
    township files."""
    per_body = due.group_by("body").agg(files=pl.col("file").n_unique(), rows=pl.len())
    assert per_body.height == N
    twice = per_body.filter(pl.col("rows") > 1)
    assert twice.height == PLANNED["duplicate_due"] == 6
    assert twice.get_column("rows").to_list() == [2] * 6
    assert twice.get_column("files").to_list() == [2] * 6


def test_generate__birth_dates_fit_categories(due: pl.DataFrame) -> None:
    """Minors are under 18 on the business date, adults 18 to 59, the elderly 60 or over."""
    birth = pl.col("pid").str.slice(6, 8).str.strptime(pl.Date, "%Y%m%d")
    age = (
        pl.lit(AS_OF.year)
        - birth.dt.year()
        - pl.when(birth.dt.strftime("%m%d") > AS_OF.strftime("%m%d")).then(1).otherwise(0)
    )
    ages = (
        due.with_columns(age=age)
        .group_by("category")
        .agg(low=pl.col("age").min(), high=pl.col("age").max())
        .sort("category")
    )
    assert ages.to_dicts() == [
        {"category": "低保特困", "low": 0, "high": 94},
        {"category": "成年居民", "low": 18, "high": 59},
        {"category": "未成年人", "low": 0, "high": 17},
        {"category": "老年居民", "low": 60, "high": 99},
    ]


def test_generate__townships_villages_and_categories(due: pl.DataFrame) -> None:
    """Each file holds one configured township, its own villages and the four categories;
    the townships differ in size, 岳林街道 the largest and 大堰镇 the smallest."""
    villages = {t.name: set(t.villages) for t in generate._TOWNSHIPS}
    per_file = due.group_by("file").agg(
        pl.col("township").unique(), pl.col("village").unique(), n=pl.len()
    )
    sizes = {}
    for row in per_file.iter_rows(named=True):
        (township,) = row["township"]
        assert township == TOWNSHIPS[row["file"]]
        assert set(row["village"]) <= villages[township]
        sizes[township] = row["n"]
    assert max(sizes, key=sizes.__getitem__) == "岳林街道"
    assert min(sizes, key=sizes.__getitem__) == "大堰镇"
    assert sorted(due.get_column("category").unique().to_list()) == sorted(CATEGORIES)
    assert due.get_column("period").unique().to_list() == ["2027"]


def test_generate__amounts(due: pl.DataFrame) -> None:
    """Amounts are yuan text for the category's tiers, zero only for 低保特困, and exactly the
    planted bad ones break the amount rule."""
    valid = due.filter(pl.col("amount_due").str.contains(AMOUNT_PATTERN))
    assert due.height - valid.height == PLANNED["bad_amount"] == 4
    fen = valid.with_columns(fen=fen_expr(pl.col("amount_due")))
    zero = fen.filter(pl.col("fen") == 0).get_column("category").unique().to_list()
    assert zero == ["低保特困"]
    paying = fen.filter(pl.col("fen") > 0).get_column("fen")
    assert (paying.min(), paying.max()) == (19_000, 54_000)
    tiers = fen.filter(pl.col("fen") % 100 == 0).get_column("fen").unique().sort().to_list()
    assert tiers == [0, 19_000, 30_000, 38_000, 46_000, 54_000]


def test_generate__accounts_luhn_valid_except_planted(registry: pl.DataFrame) -> None:
    """Accounts are 16–19 digits with a bank's prefix, distinct, and Luhn-valid per stdnum
    except the planted typos; card numbers are a letter and 8 digits, distinct."""
    accounts = registry.get_column("account_no").to_list()
    assert sum(not luhn.is_valid(a) for a in accounts) == PLANNED["bad_luhn"] == 40
    assert len(set(accounts)) == registry.height
    assert registry.get_column("account_no").str.contains(r"^[0-9]{16,19}$").all()
    prefixes = {(bank, str(prefix)) for bank, prefix, _ in generate._PREFIXES}
    pairs = registry.select("bank_code", pl.col("account_no").str.head(6)).unique().rows()
    assert set(pairs) <= prefixes
    cards = registry.get_column("card_no")
    assert cards.str.contains(r"^[A-Z][0-9]{8}$").all()
    assert cards.n_unique() == registry.height


def test_generate__registry_defects_planted_exactly(registry: pl.DataFrame) -> None:
    """Each planted account defect is in the registry exactly as often as planned, in English
    or Chinese status words."""

    def rows(column: str, *values: str) -> int:
        return registry.filter(pl.col(column).is_in(values)).height

    assert rows("account_status", "INACTIVE", "未激活") == PLANNED["inactive"] == 400
    assert rows("account_status", "FROZEN", "冻结") == PLANNED["frozen"] == 60
    assert rows("account_status", "CLOSED", "销户") == PLANNED["closed"] == 60
    assert rows("authorized", "N", "否") == PLANNED["not_authorized"] == 200
    assert rows("bank_code", UNCONFIGURED_BANK) == PLANNED["bank_not_configured"] == 20
    lost = PLANNED["card_not_usable"] + PLANNED["replaced_card"]
    assert rows("card_status", "LOST", "挂失", "CANCELLED", "注销") == lost == 600
    assert set(registry.get_column("account_status").unique()) == {
        "ACTIVE",
        "正常",
        "INACTIVE",
        "未激活",
        "FROZEN",
        "冻结",
        "CLOSED",
        "销户",
    }
    banks = registry.get_column("bank_code").value_counts(normalize=True, name="share")
    share = dict(banks.iter_rows())
    assert abs(share["NBCB"] - 0.45) < 0.02
    assert abs(share["ICBC"] - 0.30) < 0.02
    assert abs(share["FHRC"] - 0.25) < 0.02

    normal = pl.col("card_status").is_in(["NORMAL", "正常"])
    per_person = registry.group_by("body").agg(rows=pl.len(), normal=normal.sum())
    two = per_person.filter(pl.col("rows") == 2)
    assert two.height == PLANNED["replaced_card"] + PLANNED["ambiguous"]
    assert two.filter(pl.col("normal") == 2).height == PLANNED["ambiguous"] == 20
    assert per_person.get_column("rows").max() == 2


def test_generate__registry_names_and_ids_match_due_but_planted(
    due: pl.DataFrame, registry: pl.DataFrame
) -> None:
    """Joined on the ID body, exactly the planned residents lack a registry row, exactly the
    planned names differ after normalisation, and the extra card holders are on no due list."""
    residents = due.unique("body").select("body", due_name=normalise_name(pl.col("name")))
    reg = registry.select("body", reg_name=normalise_name(pl.col("name")))
    missing = residents.join(reg, on="body", how="anti")
    assert missing.height == PLANNED["no_registry_row"] == 300
    extra = reg.unique("body").join(residents, on="body", how="anti")
    assert extra.height == PLANNED["registry_extra"] == 600
    matched = (
        residents.join(reg, on="body")
        .group_by("body")
        .agg(same=(pl.col("reg_name") == pl.col("due_name")).any())
    )
    assert matched.filter(~pl.col("same")).height == PLANNED["name_mismatch"] == 100


def test_generate__special_names(due: pl.DataFrame) -> None:
    """Exactly the planned residents have a rare character, a middle-dot name, a name over 40
    bytes, Latin letters."""
    names = due.unique("body").get_column("name").to_list()
    gbk_bytes = [len(n.encode("gb18030")) for n in names]
    assert sum(b > 40 for b in gbk_bytes) == PLANNED["long"] == 6
    assert sum(any(c in n for c in generate._RARE_NOT_GBK) for n in names) == 20
    assert sum(any(c in n for c in generate._RARE_GBK) for n in names) == 20
    assert sum(any(c in n for c in "·•・") for n in names) == 80 + 6 + 10
    assert sum(any("A" <= c <= "Z" for c in n) for n in names) == PLANNED["latin"] == 10
    not_gbk = 0
    for n in names:
        try:
            n.encode("gbk")
        except UnicodeEncodeError:
            not_gbk += 1
    assert not_gbk >= PLANNED["rare_not_gbk"]


def test_registry_names__variants_normalise_back_mismatches_do_not() -> None:
    """A name variant differs from the due list's spelling only in ways normalisation undoes;
    a mismatch changes the last character."""
    kinds = list(NAME_KINDS)
    keys = list(REGISTRY_DEFECTS)
    names = pl.Series(["阿依·古丽", "LUCY·王", "王伟", "陈静", "王伟"])
    kind = np.array([kinds.index("dotted") + 1, kinds.index("latin") + 1, 0, 0, 0])
    variant, mismatch = keys.index("name_variant") + 1, keys.index("name_mismatch") + 1
    defect = np.array([variant, variant, variant, mismatch, mismatch])
    reg = generate._registry_names(
        np.random.default_rng(1), names, kind, np.zeros(5, np.int64), defect
    ).to_list()
    assert reg[0] != "阿依·古丽"
    assert reg[0].replace(reg[0][2], "·") == "阿依·古丽"
    assert reg[1] == "ＬＵＣＹ·王"
    assert reg[2] != "王伟"
    assert reg[2].strip() == "王伟"
    assert reg[3] == "陈婧"  # a homophone
    assert reg[4] == "王玮"
    normalised = pl.select(normalise_name(pl.lit(pl.Series(reg)))).to_series().to_list()
    assert normalised == ["阿依·古丽", "LUCY·王", "王伟", "陈婧", "王玮"]


def test_generate__paid_list(due: pl.DataFrame, registry: pl.DataFrame, paid: pl.DataFrame) -> None:
    """Paid residents are on the due lists with a non-zero amount, paid that amount in the
    60 days before the business date, and most also have a usable account."""
    amounts = due.unique("body").select(
        "pid", due_fen=fen_expr(pl.col("amount_due")), body=pl.col("body")
    )
    joined = paid.with_columns(fen=fen_expr(pl.col("amount"))).join(
        amounts, left_on="person_id", right_on="pid", how="left"
    )
    assert joined.get_column("body").null_count() <= PLANNED["bad_person_id"]
    found = joined.filter(pl.col("body").is_not_null() & pl.col("due_fen").is_not_null())
    assert (found.get_column("fen") == found.get_column("due_fen")).all()
    assert (paid.get_column("amount").str.contains(r"^[1-9][0-9]*\.[0-9]{2}$")).all()
    assert paid.get_column("period").unique().to_list() == ["2027"]
    assert set(paid.get_column("channel")) <= {"APP", "COUNTER", "BANK", "浙里办", "支付宝"}
    days = paid.get_column("paid_at").str.strptime(pl.Date, "%Y-%m-%d")
    assert days.min() >= AS_OF - timedelta(days=60)  # type: ignore[operator]
    assert days.max() < AS_OF  # type: ignore[operator]
    usable = registry.filter(
        pl.col("card_status").is_in(["NORMAL", "正常"])
        & pl.col("account_status").is_in(["ACTIVE", "正常"])
        & pl.col("authorized").is_in(["Y", "是"])
    )
    debitable = paid.join(usable, on="person_id", how="semi").height
    assert debitable > paid.height * 0.8
