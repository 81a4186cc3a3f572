"""The bank simulator: reproducible outcomes, sound result files, one exact defect per fault,
strict reading of requests."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from premium_debit.cli import main
from premium_debit.config import Config, load_config, parse_config
from premium_debit.errors import InputRefused, OperationRefused
from premium_debit.formats.bankfile import (
    ParsedFile,
    RequestHeader,
    parse_request,
    parse_result,
    render_request,
)
from premium_debit.model.ids import luhn_valid
from premium_debit.model.reasons import OUTCOMES
from premium_debit.pipeline.profiles import BankProfile, bank_profiles
from premium_debit.simulate.bank import (
    FAULTS,
    PROFILES,
    batch_rng,
    draw_outcomes,
    simulate_bank,
)

REPO = Path(__file__).resolve().parents[2]
CAMPAIGN = REPO / "fixtures" / "campaign"
DUE_FILES = tuple(sorted(p.name for p in CAMPAIGN.glob("due_*")))
ROW_COLUMNS = [
    "seq",
    "instruction_id",
    "account_no",
    "amount_fen",
    "debited_fen",
    "code",
    "message",
    "bank_ref",
]
OUTCOME_ZH = {r.code: r.zh for r in OUTCOMES}


@dataclass(frozen=True)
class Built:
    """The fixture campaign after one real build: its configuration and request files."""

    cfg: Config
    requests: list[Path]
    parsed: dict[Path, ParsedFile] = field(default_factory=dict)  # results parsed so far

    def bank(self, path: Path) -> BankProfile:
        return bank_profiles(self.cfg)[path.name[:4]]

    def request(self, path: Path) -> ParsedFile:
        bank = self.bank(path)
        return parse_request(bank.layout, bank.encoding, path.read_bytes(), path.name)

    def result(self, path: Path) -> ParsedFile:
        """The parsed result file; each file is parsed once (its name is never rewritten)."""
        if path not in self.parsed:
            bank = self.bank(path)
            self.parsed[path] = parse_result(
                bank.layout, bank.encoding, path.read_bytes(), path.name, bank.success_codes
            )
        return self.parsed[path]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("campaign") / "c"
    shutil.copytree(CAMPAIGN, root, ignore=shutil.ignore_patterns("expected", "*.py", "var"))
    config = root / "premium-debit.toml"
    due = [str(root / n) for n in DUE_FILES]
    argv = [
        "build",
        "--config",
        str(config),
        "--as-of",
        "2026-11-29",
        "--due",
        *due,
        "--registry",
        str(root / "registry.csv"),
        "--paid",
        str(root / "paid.csv"),
    ]
    assert main(argv) == 0
    requests = sorted((root / "var" / "outbox").rglob("*.req"))
    return Built(load_config(config), requests)


def _rows(parsed: ParsedFile) -> pl.DataFrame:
    return parsed.details.select(ROW_COLUMNS)


@pytest.fixture(scope="module")
def sound(built: Built, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The fault-free answers with seed 3, by request file name (faults use seed 3 too)."""
    out = simulate_bank(built.requests, tmp_path_factory.mktemp("sound"), built.cfg, seed=3)
    return {r.name: p for r, p in zip(built.requests, out, strict=True)}


def _pair(built: Built) -> list[Path]:
    """One request of each format: FHRC (fixed, GBK, 2 rows) and NBCB's first (pipe, GB18030)."""
    pair = [built.requests[0], built.requests[2]]
    assert [p.name for p in pair] == ["FHRC_2027FHRC2026112901.req", "NBCB_2027NBCB2026112901.req"]
    return pair


def _faulty(
    built: Built, tmp_path: Path, fault: str, requests: list[Path] | None = None
) -> dict[str, Path]:
    """The answers with ``fault`` planted (seed 3, as ``sound``), by request file name; by
    default for the two requests of ``_pair``."""
    requests = _pair(built) if requests is None else requests
    out = simulate_bank(requests, tmp_path / fault, built.cfg, seed=3, fault=fault)
    return {r.name: p for r, p in zip(requests, out, strict=True)}


# -- synthetic requests --------------------------------------------------------------------------


def _config(tmp_path: Path, codes: dict[str, str] | None = None) -> Config:
    bank: dict[str, object] = {"code": "SIMB", "format": "pipe", "encoding": "gb18030"}
    if codes is not None:
        bank["codes"] = codes
    data = {
        "campaign": {"period": 2027, "deadline": "2026-12-31"},
        "townships": [{"name": "西坞街道"}],
        "categories": {"names": ["成年居民"]},
        "banks": [bank, {"code": "SIMF", "format": "fixed", "encoding": "gbk"}],
    }
    return parse_config(data, source="test", base_dir=tmp_path)


def _request(cfg: Config, folder: Path, n: int, *, bank_code: str = "SIMB", seq: int = 1) -> Path:
    """A sound request file of ``n`` instructions of 540.00 yuan each."""
    bank = bank_profiles(cfg)[bank_code]
    batch_id = f"2027{bank_code}20261129{seq:02d}"
    details = pl.select(pl.int_range(1, n + 1, dtype=pl.Int64).alias("seq")).with_columns(
        (pl.lit(batch_id) + pl.col("seq").cast(pl.String).str.pad_start(6, "0")).alias(
            "instruction_id"
        ),
        (pl.lit("6230580") + pl.col("seq").cast(pl.String).str.pad_start(12, "0")).alias(
            "account_no"
        ),
        pl.lit("张三").alias("name"),
        pl.lit(54000, pl.Int64).alias("amount_fen"),
        pl.lit("330283198001010011").alias("person_id"),
    )
    header = RequestHeader(batch_id, bank_code, 2027, date(2026, 11, 29))
    path = folder / f"{bank_code}_{batch_id}.req"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_request(bank.layout, bank.encoding, header, details))
    return path


def _codes_of(cfg: Config, path: Path) -> pl.Series:
    bank = bank_profiles(cfg)[path.name[:4]]
    parsed = parse_result(
        bank.layout, bank.encoding, path.read_bytes(), path.name, bank.success_codes
    )
    assert parsed.problems == []
    return parsed.details["code"]


# -- the public names ----------------------------------------------------------------------------


def test_simulate__fault_and_profile_names() -> None:
    """The simulator offers exactly the faults and profiles the CLI documents."""
    assert FAULTS == (
        "missing_row",
        "unexpected_row",
        "duplicate_row",
        "amount_mismatch",
        "account_mismatch",
        "partial_debit",
        "unknown_code",
        "header_count",
        "trailer_total",
        "unknown_batch",
        "name_disagrees",
        "truncated",
        "undecodable",
    )
    assert list(PROFILES) == ["pilot", "all_success", "all_insufficient", "recovering"]


# -- determinism ---------------------------------------------------------------------------------


def test_simulate__same_seed_same_bytes(built: Built, tmp_path: Path) -> None:
    """Two runs with one seed write byte-identical files under the same names."""
    first = simulate_bank(built.requests, tmp_path / "a", built.cfg, seed=11)
    second = simulate_bank(built.requests, tmp_path / "b", built.cfg, seed=11)
    assert [p.name for p in first] == [p.name for p in second]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert [p.name for p in first] == [r.name.replace(".req", ".ret") for r in built.requests]


def test_simulate__a_batch_answer_ignores_the_other_files(built: Built, tmp_path: Path) -> None:
    """A batch's answer depends on the seed and its batch id only, not on the files beside it."""
    together = simulate_bank(built.requests, tmp_path / "all", built.cfg, seed=5)
    alone = simulate_bank(built.requests[-1:], tmp_path / "one", built.cfg, seed=5)
    assert alone[0].read_bytes() == together[-1].read_bytes()


def test_simulate__different_seed_different_outcomes(tmp_path: Path) -> None:
    """Another seed draws other outcomes for the same batch."""
    cfg = _config(tmp_path)
    request = _request(cfg, tmp_path / "req", 500)
    one = simulate_bank([request], tmp_path / "s1", cfg, seed=1)[0]
    two = simulate_bank([request], tmp_path / "s2", cfg, seed=2)[0]
    assert not _codes_of(cfg, one).equals(_codes_of(cfg, two))


def test_simulate__different_seed_changes_fixture_bytes(built: Built, tmp_path: Path) -> None:
    """Every result file of the fixture batches changes with the seed (outcomes, references)."""
    one = simulate_bank(built.requests, tmp_path / "s1", built.cfg, seed=1)
    two = simulate_bank(built.requests, tmp_path / "s2", built.cfg, seed=2)
    for a, b in zip(one, two, strict=True):
        assert a.read_bytes() != b.read_bytes(), a.name


# -- sound result files --------------------------------------------------------------------------


def test_simulate__results_are_sound_and_echo_the_request(
    built: Built, sound: dict[str, Path]
) -> None:
    """Every result parses without problems, echoes each instruction once in request order and
    debits the amount exactly on success, with the outcome's Chinese message."""
    for request, result in zip(built.requests, sound.values(), strict=True):
        bank = built.bank(request)
        req, res = built.request(request), built.result(result)
        assert res.problems == [], result.name
        assert res.header["batch_id"] == req.header["batch_id"]
        assert res.header["bank_code"] == bank.code
        created = req.header["created"]
        assert isinstance(created, date)
        assert res.header["processed"] == created + timedelta(days=1)
        rows = res.details
        echoed = ["seq", "instruction_id", "account_no", "amount_fen"]
        assert rows.select(echoed).equals(req.details.select(echoed))
        outcome = rows["code"].replace_strict(bank.codes)
        expected_debit = pl.select(
            pl.when(outcome == "SUCCEEDED").then(rows["amount_fen"]).otherwise(0)
        ).to_series()
        assert rows["debited_fen"].to_list() == expected_debit.to_list()
        assert rows["message"].to_list() == [OUTCOME_ZH[o] for o in outcome]
        assert rows["bank_ref"].str.contains(r"^R20261130[0-9]{6}[0-9]{6}$").all()
        assert rows["bank_ref"].str.slice(15).to_list() == [f"{i:06d}" for i in rows["seq"]]


def test_simulate__fixed_result_bytes(built: Built, tmp_path: Path) -> None:
    """The fixed-width GBK answer of the FHRC batch with seed 0 is exactly these 150-byte
    records (both instructions succeed; the batch's reference tag is 676113)."""
    (path,) = simulate_bank(built.requests[:1], tmp_path, built.cfg, seed=0)
    assert path.name == "FHRC_2027FHRC2026112901.ret"
    data = path.read_bytes()
    lines = data.split(b"\r\n")
    assert lines[-1] == b""
    assert all(len(line) == 150 for line in lines[:-1])
    assert [line.rstrip(b" ") for line in lines[:-1]] == [
        b"H2027FHRC2026112901  FHRC0000000002000000000081000000000000200000000008100020261130",
        b"D00000000012027FHRC2026112901000001      6213360000000000908"
        b"000000054000000000054000"
        b"00" + "扣款成功".encode("gbk").ljust(40) + b"R20261130676113000001",
        b"D00000000022027FHRC2026112901000002      6213360000000001005"
        b"000000027000000000027000"
        b"00" + "扣款成功".encode("gbk").ljust(40) + b"R20261130676113000002",
        b"T0000000002000000000081000",
    ]


def test_simulate__processed_date_given(built: Built, tmp_path: Path) -> None:
    """A given processed date goes into every header and every bank reference."""
    out = simulate_bank(built.requests, tmp_path, built.cfg, processed=date(2026, 12, 3))
    for path in out:
        res = built.result(path)
        assert res.header["processed"] == date(2026, 12, 3)
        assert res.details["bank_ref"].str.starts_with("R20261203").all()


# -- profiles ------------------------------------------------------------------------------------


def test_draw_outcomes__pilot_shares_within_tolerance() -> None:
    """Over 200,000 draws each pilot outcome's share is within 0.3 points of the profile's, and
    insufficient balance, not activated and card lost are the largest failures in that order."""
    n = 200_000
    drawn = draw_outcomes(PROFILES["pilot"], n, batch_rng(0, "2027SIMB2026112901"))
    shares = drawn.value_counts().with_columns(pl.col("count") / n)
    got = dict(shares.iter_rows())
    for outcome, share in PROFILES["pilot"].shares:
        assert abs(got[outcome] - share) < 0.003, outcome
    failures = sorted((s, o) for o, s in got.items() if o != "SUCCEEDED")
    assert [o for _, o in failures[-3:]] == [
        "CARD_LOST",
        "ACCOUNT_NOT_ACTIVATED",
        "INSUFFICIENT_FUNDS",
    ]


def test_simulate__pilot_shares_in_a_large_file(tmp_path: Path) -> None:
    """A 20,000-row batch answered with pilot succeeds 85% ± 1 point, 7% ± 1 point lack money."""
    cfg = _config(tmp_path)
    result = simulate_bank([_request(cfg, tmp_path / "req", 20_000)], tmp_path, cfg, seed=9)[0]
    counts = dict(_codes_of(cfg, result).value_counts().iter_rows())
    assert abs(counts["0000"] / 20_000 - 0.85) < 0.01
    assert abs(counts["1001"] / 20_000 - 0.07) < 0.01
    assert set(counts) <= set(bank_profiles(cfg)["SIMB"].codes)


@pytest.mark.parametrize(
    ("profile", "bank_code", "expected"),
    [
        ("all_success", "SIMB", {"0000": 300}),
        ("all_success", "SIMF", {"00": 300}),
        ("all_insufficient", "SIMB", {"1001": 300}),
        ("all_insufficient", "SIMF", {"51": 300}),
    ],
)
def test_simulate__single_outcome_profiles(
    tmp_path: Path, profile: str, bank_code: str, expected: dict[str, int]
) -> None:
    """all_success and all_insufficient give every row the bank's code for that outcome."""
    cfg = _config(tmp_path)
    request = _request(cfg, tmp_path / "req", 300, bank_code=bank_code)
    result = simulate_bank([request], tmp_path, cfg, profile=profile)[0]
    assert dict(_codes_of(cfg, result).value_counts().iter_rows()) == expected


def test_simulate__recovering_profile_mostly_succeeds(tmp_path: Path) -> None:
    """recovering succeeds for 70% ± 2 points of a 5,000-row retry batch; the rest are mostly
    insufficient balance again."""
    cfg = _config(tmp_path)
    result = simulate_bank(
        [_request(cfg, tmp_path / "req", 5000)], tmp_path, cfg, profile="recovering"
    )[0]
    counts = dict(_codes_of(cfg, result).value_counts().iter_rows())
    assert abs(counts["0000"] / 5000 - 0.70) < 0.02
    assert abs(counts["1001"] / 5000 - 0.22) < 0.02
    assert set(counts) == {"0000", "1001", "1008", "9999", "1002"}


def test_simulate__overridden_code_map(tmp_path: Path) -> None:
    """With a bank's own map the first code of an outcome in sorted order is used, and outcomes
    the map lacks are never drawn."""
    codes = {"S1": "SUCCEEDED", "S0": "SUCCEEDED", "NF": "INSUFFICIENT_FUNDS"}
    cfg = _config(tmp_path, codes)
    result = simulate_bank([_request(cfg, tmp_path / "req", 2000)], tmp_path, cfg)[0]
    counts = dict(_codes_of(cfg, result).value_counts().iter_rows())
    assert set(counts) == {"S0", "NF"}
    # pilot's 85 : 7 scaled to the two outcomes the bank can say: 92.4% success.
    assert abs(counts["S0"] / 2000 - 0.85 / 0.92) < 0.02


# -- row-level faults: sound files with one defect -----------------------------------------------


def _diff(sound: pl.DataFrame, faulty: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows of each frame that the other lacks (by position)."""
    same = pl.Series([sound.row(i) == faulty.row(i) for i in range(sound.height)])
    return sound.filter(~same), faulty.filter(~same)


def test_fault__missing_row(built: Built, sound: dict[str, Path], tmp_path: Path) -> None:
    """missing_row drops exactly one instruction's row; every other row is the sound one."""
    faulty = _faulty(built, tmp_path, "missing_row")
    for name in faulty:
        path = sound[name]
        good, bad = built.result(path), built.result(faulty[name])
        assert bad.problems == []
        assert bad.details.height == good.details.height - 1
        missing = set(good.details["instruction_id"]) - set(bad.details["instruction_id"])
        assert len(missing) == 1
        kept = _rows(good).filter(~pl.col("instruction_id").is_in(list(missing)))
        assert _rows(bad).equals(kept)


def test_fault__unexpected_row(built: Built, sound: dict[str, Path], tmp_path: Path) -> None:
    """unexpected_row appends one successful row for an instruction the batch does not hold."""
    faulty = _faulty(built, tmp_path, "unexpected_row")
    for request in _pair(built):
        name = request.name
        good, bad = built.result(sound[name]), built.result(faulty[name])
        bank = built.bank(request)
        assert bad.problems == []
        n = good.details.height
        assert _rows(bad).head(n).equals(_rows(good))
        extra = bad.details.row(n, named=True)
        batch_id = str(good.header["batch_id"])
        assert extra["instruction_id"] == f"{batch_id}{n + 1:06d}"
        assert extra["instruction_id"] not in built.request(request).details["instruction_id"]
        assert extra["seq"] == n + 1
        assert bank.codes[extra["code"]] == "SUCCEEDED"
        assert extra["debited_fen"] == extra["amount_fen"] > 0
        assert bad.header["count"] == n + 1


def test_fault__duplicate_row(built: Built, sound: dict[str, Path], tmp_path: Path) -> None:
    """duplicate_row writes one instruction's row twice in a row; the file stays sound."""
    faulty = _faulty(built, tmp_path, "duplicate_row")
    for name in faulty:
        path = sound[name]
        good, bad = built.result(path), built.result(faulty[name])
        assert bad.problems == []
        counts = bad.details["instruction_id"].value_counts()
        assert counts.filter(pl.col("count") > 1).height == 1
        assert counts["count"].max() == 2
        assert _rows(bad).unique(maintain_order=True).equals(_rows(good))


# fault → (fields the victim row must change, fields it may change besides)
ONE_ROW_FAULTS: dict[str, tuple[set[str], set[str]]] = {
    "amount_mismatch": ({"amount_fen"}, {"debited_fen"}),
    "account_mismatch": ({"account_no"}, set()),
    "partial_debit": ({"debited_fen"}, {"code", "message"}),  # the victim may have succeeded
    "unknown_code": ({"code", "message"}, {"debited_fen"}),
}


@pytest.mark.parametrize("fault", list(ONE_ROW_FAULTS))
def test_fault__one_row_changed(
    built: Built, sound: dict[str, Path], tmp_path: Path, fault: str
) -> None:
    """The fault changes exactly one row of a sound file, and only its defect's fields."""
    required, allowed = ONE_ROW_FAULTS[fault]
    faulty = _faulty(built, tmp_path, fault)
    for request in _pair(built):
        name = request.name
        bank = built.bank(request)
        good, bad = built.result(sound[name]), built.result(faulty[name])
        assert bad.problems == [], name
        before, after = _diff(_rows(good), _rows(bad))
        assert before.height == after.height == 1, name
        was, now = before.row(0, named=True), after.row(0, named=True)
        assert required <= {k for k in was if was[k] != now[k]} <= required | allowed
        if fault == "amount_mismatch":
            assert now["amount_fen"] == was["amount_fen"] + 100
            assert now["debited_fen"] == (now["amount_fen"] if was["debited_fen"] else 0)
        elif fault == "account_mismatch":
            assert len(now["account_no"]) == len(was["account_no"])
            assert pl.select(luhn_valid(pl.lit(now["account_no"]))).item()
        elif fault == "partial_debit":
            assert bank.codes[now["code"]] == "SUCCEEDED"
            assert now["debited_fen"] == now["amount_fen"] // 2 < now["amount_fen"]
        else:
            assert now["code"] not in bank.codes
            assert now["code"] == ("99" if bank.layout.is_fixed else "9998")
            assert now["debited_fen"] == 0


def test_fault__row_fault_in_empty_batch_refused(tmp_path: Path) -> None:
    """A row-level fault cannot be planted in a batch without instructions; a sound answer can."""
    cfg = _config(tmp_path)
    request = _request(cfg, tmp_path / "req", 0)
    (result,) = simulate_bank([request], tmp_path / "ok", cfg)
    assert _codes_of(cfg, result).len() == 0
    with pytest.raises(OperationRefused, match="missing_row in a batch without instructions"):
        simulate_bank([request], tmp_path / "bad", cfg, fault="missing_row")


# -- file-level faults: files reconciliation refuses ---------------------------------------------


def _problems(built: Built, path: Path) -> list[str]:
    return [str(p) for p in built.result(path).problems]


def test_fault__header_count(built: Built, sound: dict[str, Path], tmp_path: Path) -> None:
    """header_count: the header states one line more than the file holds, and nothing else."""
    faulty = _faulty(built, tmp_path, "header_count")
    for name in faulty:
        path = sound[name]
        n = built.result(path).details.height
        assert _problems(built, faulty[name]) == [
            f"line 1, field count: header count {n + 1} disagrees with the {n} detail lines"
        ]
        assert _rows(built.result(faulty[name])).equals(_rows(built.result(path)))


def test_fault__trailer_total(built: Built, tmp_path: Path) -> None:
    """trailer_total: the trailer's total is 1.00 yuan more than the detail amounts."""
    faulty = _faulty(built, tmp_path, "trailer_total")
    problems = {name: _problems(built, path) for name, path in faulty.items()}
    assert problems["NBCB_2027NBCB2026112901.req"] == [
        "line 6, field total_fen: trailer total 2161.00 disagrees with the detail amounts,"
        " which add up to 2160.00"
    ]
    assert problems["FHRC_2027FHRC2026112901.req"] == [
        "line 4, field total_fen: trailer total 811.00 disagrees with the detail amounts,"
        " which add up to 810.00"
    ]


def test_fault__unknown_batch(built: Built, sound: dict[str, Path], tmp_path: Path) -> None:
    """unknown_batch: header and file name agree on a batch never sent (sequence 100 − s)."""
    faulty = _faulty(built, tmp_path, "unknown_batch", built.requests)
    names = sorted(p.name for p in faulty.values())
    assert names == [
        "FHRC_2027FHRC2026112999.ret",
        "ICBC_2027ICBC2026112999.ret",
        "NBCB_2027NBCB2026112996.ret",
        "NBCB_2027NBCB2026112997.ret",
        "NBCB_2027NBCB2026112998.ret",
        "NBCB_2027NBCB2026112999.ret",
    ]
    for name in faulty:
        path = sound[name]
        bad = built.result(faulty[name])
        assert bad.problems == []
        assert bad.header["batch_id"] == faulty[name].name[5:-4]
        assert _rows(bad).equals(_rows(built.result(path)))


def test_fault__name_disagrees(built: Built, tmp_path: Path) -> None:
    """name_disagrees: the file is named after the next batch; only the name check fails."""
    faulty = _faulty(built, tmp_path, "name_disagrees")
    path = faulty["NBCB_2027NBCB2026112901.req"]
    assert path.name == "NBCB_2027NBCB2026112902.ret"
    assert _problems(built, path) == [
        "the file name 'NBCB_2027NBCB2026112902.ret' disagrees with its header, which names"
        " batch '2027NBCB2026112901' of bank 'NBCB': expected 'NBCB_2027NBCB2026112901.ret'"
    ]
    assert faulty["FHRC_2027FHRC2026112901.req"].name == "FHRC_2027FHRC2026112902.ret"
    assert len(_problems(built, faulty["FHRC_2027FHRC2026112901.req"])) == 1


def test_fault__truncated(built: Built, sound: dict[str, Path], tmp_path: Path) -> None:
    """truncated: the sound file cut inside a detail line: no trailer, no final line end."""
    faulty = _faulty(built, tmp_path, "truncated")
    for name in faulty:
        path = sound[name]
        good, bad = path.read_bytes(), faulty[name].read_bytes()
        assert good.startswith(bad)
        assert len(bad) < len(good)
        last = bad.split(b"\r\n")[-1]
        assert last.startswith(b"D")
        assert 0 < len(last) <= 20
        problems = _problems(built, faulty[name])
        assert "the file ends without the trailer record 'T' (truncated?)" in problems


def test_fault__undecodable(built: Built, sound: dict[str, Path], tmp_path: Path) -> None:
    """undecodable: one row's message is two bytes invalid in the bank's encoding; everything
    else is the sound file's bytes."""
    faulty = _faulty(built, tmp_path, "undecodable")
    for request in _pair(built):
        name = request.name
        bank = built.bank(request)
        good, bad = (
            sound[name].read_bytes().split(b"\r\n"),
            faulty[name].read_bytes().split(b"\r\n"),
        )
        changed = [i for i, (a, b) in enumerate(zip(good, bad, strict=True)) if a != b]
        assert len(changed) == 1
        (i,) = changed
        message = built.result(sound[name]).details["message"][i - 1].encode(bank.encoding)
        if bank.layout.is_fixed:
            assert bad[i] == good[i].replace(message.ljust(40), b"\xff\xff".ljust(40))
        else:
            assert bad[i] == good[i].replace(b"|" + message + b"|", b"|\xff\xff|")
        (problem,) = _problems(built, faulty[name])
        assert problem.startswith(f"line {i + 1}: cannot be decoded as {bank.encoding}: byte 0xFF")


# -- refused requests ----------------------------------------------------------------------------


def test_refuse__request_with_wrong_trailer_total(built: Built, tmp_path: Path) -> None:
    """A request whose trailer total disagrees is refused naming the file and the problem, and
    no result file is written, not even for the sound requests."""
    source = built.requests[2]
    assert source.name == "NBCB_2027NBCB2026112901.req"
    broken = tmp_path / "req" / source.name
    broken.parent.mkdir()
    broken.write_bytes(source.read_bytes().replace(b"T|4|2160.00", b"T|4|2160.01"))
    out = tmp_path / "out"
    with pytest.raises(InputRefused) as caught:
        simulate_bank([built.requests[0], broken], out, built.cfg)
    assert caught.value.file == str(broken)
    assert caught.value.line == 6
    assert caught.value.field == "total_fen"
    assert caught.value.problem == (
        "trailer total 2160.01 disagrees with the detail amounts, which add up to 2160.00"
    )
    assert not out.exists()


def test_refuse__fixed_request_with_short_record(built: Built, tmp_path: Path) -> None:
    """A fixed request with a record cut short is refused at that line."""
    source = built.requests[0]
    assert source.name.startswith("FHRC")
    lines = source.read_bytes().split(b"\r\n")
    lines[1] = lines[1][:-2]
    broken = tmp_path / source.name
    broken.write_bytes(b"\r\n".join(lines))
    with pytest.raises(InputRefused, match=r"line 2: detail record is 128 bytes long"):
        simulate_bank([broken], tmp_path / "out", built.cfg)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("NBCB-2027NBCB2026112901.req", "not a request file name <bank_code>_<batch_id>.req"),
        ("XXXX_2027XXXX2026112901.req", "bank XXXX is not configured"),
        ("NBCB_2027NBCB2026112977.req", "file not found"),
    ],
)
def test_refuse__request_name_or_file(
    built: Built, tmp_path: Path, name: str, problem: str
) -> None:
    """A request whose name is malformed, names an unknown bank or does not exist is refused."""
    path = tmp_path / name
    if name.startswith("NBCB-") or name.startswith("XXXX"):
        path.write_bytes(built.requests[2].read_bytes())
    with pytest.raises(InputRefused) as caught:
        simulate_bank([path], tmp_path / "out", built.cfg)
    assert caught.value.problem == problem


def test_refuse__name_disagrees_with_request_header(built: Built, tmp_path: Path) -> None:
    """A request file renamed to another batch is refused: the header is authoritative."""
    path = tmp_path / "NBCB_2027NBCB2026112909.req"
    path.write_bytes(built.requests[2].read_bytes())
    with pytest.raises(InputRefused, match="disagrees with its header"):
        simulate_bank([path], tmp_path / "out", built.cfg)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("profile", "lucky", "unknown profile 'lucky'"), ("fault", "fire", "unknown fault 'fire'")],
)
def test_refuse__unknown_profile_or_fault(
    built: Built, tmp_path: Path, option: str, value: str, message: str
) -> None:
    """An unknown profile or fault name is refused before anything is read or written."""
    kwargs = {option: value}
    with pytest.raises(OperationRefused, match=message):
        simulate_bank(built.requests, tmp_path / "out", built.cfg, **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()
