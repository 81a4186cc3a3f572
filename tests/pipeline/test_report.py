"""The operator's report: figures, summary.json, report.xlsx read back with openpyxl, overdue.csv,
the terminal table and the progress display."""

from __future__ import annotations

import io
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest
from tests.pipeline.conftest import CAMPAIGN, Campaign

from premium_debit.config import load_config
from premium_debit.pipeline.context import RunContext
from premium_debit.reports.progress import progress
from premium_debit.reports.report import print_report, run_report

RUN_ID = "20261205T090000000-report-test"
TOWNSHIPS = ["西坞街道", "尚田镇", "岳林街道", "莼湖镇", "溪口镇", "大堰镇"]
LIST_SHEETS = ["扣款失败名单", "待人工核对", "退款名单", "超期未回盘", "未发指令名单"]
TEXT_TITLES = {"公民身份号码", "批次号", "指令号", "金融账号(脱敏)", "银行代码"}


def _report(
    campaign: Campaign,
    as_of: str = "2026-12-05",
    period: int | None = None,
    clock: datetime = datetime(2026, 12, 5, 9, tzinfo=UTC),
) -> tuple[dict[str, Any], Path]:
    cfg = load_config(campaign.config)
    ctx = RunContext(
        cfg=cfg,
        as_of=date.fromisoformat(as_of),
        command="report",
        run_id=RUN_ID,
        clock=lambda: clock,
    )
    with campaign.ledger() as ledger:
        return run_report(ctx, ledger, period)


@dataclass
class Season:
    campaign: Campaign
    summary: dict[str, Any]
    report_dir: Path
    book: Any
    pids: dict[str, str]


def _play_season(campaign: Campaign) -> dict[str, str]:
    """Build; the bank answers with two INSUFFICIENT_FUNDS (西坞, 岳林), two
    ACCOUNT_NOT_ACTIVATED (both of 尚田镇) and one missing row (review); one collected resident
    then pays at the counter (refund); the retry 3 days later succeeds for 西坞 and fails again
    for 岳林."""
    pids = {
        c: campaign.pid(c)
        for c in ("ok_nbcb_0", "ok_nbcb_2", "ok_nbcb_1", "ok_fhrc_0", "ok_icbc_0")
    }
    assert campaign.build() == 0
    campaign.answer(only="2027NBCB2026112902", edit=lambda r: r.filter(pl.col("seq") != 1))
    campaign.answer(
        {
            pids["ok_nbcb_0"]: "INSUFFICIENT_FUNDS",
            pids["ok_nbcb_2"]: "INSUFFICIENT_FUNDS",
            pids["ok_nbcb_1"]: "ACCOUNT_NOT_ACTIVATED",
            pids["ok_fhrc_0"]: "ACCOUNT_NOT_ACTIVATED",
        }
    )
    results = sorted((campaign.root / "results").glob("*.ret"))
    assert campaign.cli("reconcile", *results, as_of="2026-11-30") == 0
    paid = campaign.root / "paid_counter.csv"
    paid.write_text(
        "person_id,period,amount,channel,paid_at\n"
        f"{pids['ok_icbc_0']},2027,380.00,COUNTER,2026-12-01\n",
        "utf-8",
    )
    assert campaign.cli("paid", paid, as_of="2026-12-01") == 0
    assert campaign.cli("retry", as_of="2026-12-03") == 0
    again = campaign.answer({pids["ok_nbcb_2"]: "INSUFFICIENT_FUNDS"}, processed="2026-12-03")
    assert len(again) == 1
    assert campaign.cli("reconcile", *again, as_of="2026-12-04") == 0
    return pids


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Season]:
    """One played season and its report, shared by the read-only tests of this module."""
    root = tmp_path_factory.mktemp("season") / "campaign"
    shutil.copytree(CAMPAIGN, root, ignore=shutil.ignore_patterns("expected", "*.py", "var"))
    campaign = Campaign(root)
    pids = _play_season(campaign)
    summary, report_dir = _report(campaign)
    book = openpyxl.load_workbook(report_dir / "report.xlsx")
    yield Season(campaign, summary, report_dir, book, pids)
    book.close()


def _fen(value: Any) -> int:
    """A yuan cell back to fen (the cell holds fen / 100)."""
    return round(float(value) * 100)


def _rows(ws: Any, header_row: int) -> list[dict[str, Any]]:
    """The table under ``header_row`` (1-based) as dicts, up to the first blank first cell."""
    titles = [c.value for c in ws[header_row]]
    out = []
    for row in ws.iter_rows(min_row=header_row + 1, values_only=True):
        if row[0] is None:
            break
        out.append(dict(zip(titles, row, strict=True)))
    return out


# -- summary.json ----------------------------------------------------------------------------


def test_report__summary_totals_exact(season: Season) -> None:
    """Totals count every resident once by state; collected fen is the SUCCEEDED amounts."""
    s = season.summary
    assert (s["command"], s["run_id"], s["as_of"], s["period"]) == (
        "report",
        RUN_ID,
        "2026-12-05",
        2027,
    )
    t = s["totals"]
    expected = {
        "due": 47,
        "instructed": 21,
        "collected": 17,
        "failed": 2,
        "review": 1,
        "awaiting": 0,
        "retry_pending": 1,
        "paid_elsewhere": 1,
        "rejected": 24,
        "excluded": 1,
    }
    assert {k: t[k]["count"] for k in expected} == expected
    assert t["collected"] == {"count": 17, "amount_fen": 929050}
    assert t["failed"] == {"count": 2, "amount_fen": 108000}
    assert t["failed_reasons"] == {"ACCOUNT_NOT_ACTIVATED": {"count": 2, "amount_fen": 108000}}
    assert t["collection_rate"] == round(17 / 47, 6)
    assert t["instructions"]["instructed"] == {"count": 23, "amount_fen": 1253050}
    assert s["conservation"]["holds"] is True
    with season.campaign.ledger() as ledger:
        assert t["due"]["amount_fen"] == ledger.scalar(
            "SELECT SUM(amount_due_fen) FROM residents WHERE period = 2027"
        )
        assert t["collected"]["amount_fen"] == ledger.scalar(
            "SELECT SUM(amount_fen) FROM instructions WHERE status = 'SUCCEEDED'"
        )


def test_report__townships_in_config_order_then_others(season: Season) -> None:
    """Configured townships first, in their order; a name only the ledger knows comes last."""
    assert list(season.summary["townships"]) == [*TOWNSHIPS, "东郊乡"]
    assert list(season.summary["banks"]) == ["NBCB", "ICBC", "FHRC"]
    assert season.summary["banks"]["ICBC"]["name"] == "中国工商银行"


def test_report__bank_is_the_last_instructions_bank(season: Season) -> None:
    """Per bank, residents count at the bank of their last instruction: NBCB holds the retried
    residents, and its collected fen is its SUCCEEDED instructions of collected residents."""
    nbcb = season.summary["banks"]["NBCB"]
    assert nbcb["instructed"]["count"] == 14
    assert nbcb["collected"] == {"count": 11, "amount_fen": 594000}
    assert nbcb["retry_pending"]["count"] == 1
    assert nbcb["review"]["count"] == 1
    assert season.summary["banks"]["FHRC"]["failed_reasons"] == {
        "ACCOUNT_NOT_ACTIVATED": {"count": 1, "amount_fen": 54000}
    }


def test_report__retry_recovery_counts_exact(season: Season) -> None:
    """Failed at attempt 1 then succeeded at attempt 2 counts as recovered; a second failure
    is its own row; non-retryable failures never recover."""
    assert season.summary["retry_recovery"] == [
        {
            "reason_code": "INSUFFICIENT_FUNDS",
            "attempt": 1,
            "failed": {"count": 2, "amount_fen": 108000},
            "recovered": {"count": 1, "amount_fen": 54000},
        },
        {
            "reason_code": "INSUFFICIENT_FUNDS",
            "attempt": 2,
            "failed": {"count": 1, "amount_fen": 54000},
            "recovered": {"count": 0, "amount_fen": 0},
        },
        {
            "reason_code": "ACCOUNT_NOT_ACTIVATED",
            "attempt": 1,
            "failed": {"count": 2, "amount_fen": 108000},
            "recovered": {"count": 0, "amount_fen": 0},
        },
    ]
    rows = _rows(season.book["重扣回收"], 1)
    assert [
        (
            r["失败原因代码"],
            r["第几次扣款"],
            r["失败笔数"],
            r["其后扣款成功人数"],
            _fen(r["其后扣款成功金额(元)"]),
            r["回收率"],
        )
        for r in rows
    ] == [
        ("INSUFFICIENT_FUNDS", 1, 2, 1, 54000, 0.5),
        ("INSUFFICIENT_FUNDS", 2, 1, 0, 0, 0),
        ("ACCOUNT_NOT_ACTIVATED", 1, 2, 0, 0, 0),
    ]


def test_report__data_quality_flags_township_over_threshold(season: Season) -> None:
    """尚田镇's two instructions both failed ACCOUNT_NOT_ACTIVATED (share 1.0 > 0.05): only it is
    flagged, in summary.json and as a highlighted row of the 数据质量 sheet."""
    dq = {n: t["data_quality"] for n, t in season.summary["townships"].items()}
    assert dq["尚田镇"] == {
        "instructions": 2,
        "admin_failures": 2,
        "share": 1.0,
        "threshold": 0.05,
        "flagged": True,
    }
    assert [n for n, q in dq.items() if q["flagged"]] == ["尚田镇"]
    assert (dq["岳林街道"]["instructions"], dq["岳林街道"]["admin_failures"]) == (3, 0)
    ws = season.book["数据质量"]
    rows = _rows(ws, 1)
    assert [(r["镇街"], r["需核查"]) for r in rows if r["需核查"]] == [("尚田镇", "是")]
    fills = {
        ws.cell(row=i + 2, column=1).value: ws.cell(row=i + 2, column=1).fill.fgColor.rgb
        for i in range(len(rows))
    }
    assert fills["尚田镇"] == "FFFFC7CE"
    assert fills["岳林街道"] != "FFFFC7CE"


# -- report.xlsx -----------------------------------------------------------------------------


def test_report__workbook_sheet_names(season: Season) -> None:
    """The workbook has its summary, analysis and list sheets, in this order."""
    assert season.book.sheetnames == ["汇总", "原因分析", "重扣回收", "数据质量", *LIST_SHEETS]


def test_report__summary_sheet_equals_summary_json(season: Season) -> None:
    """Every township row and the totals row of 汇总 hold the summary.json counts, and the yuan
    cells are exactly the fen figures / 100."""
    rows = _rows(season.book["汇总"], 3)
    township_rows, total_row = rows[:-1], rows[-1]
    assert [r["镇街 / 银行"] for r in township_rows] == [*TOWNSHIPS, "东郊乡"]
    assert total_row["镇街 / 银行"] == "合计"
    expected = [*season.summary["townships"].values(), season.summary["totals"]]
    for row, fig in zip(rows, expected, strict=True):
        assert (
            row["应缴人数"],
            _fen(row["应缴金额(元)"]),
            row["已发指令人数"],
            row["已扣款人数"],
            _fen(row["已扣款金额(元)"]),
            row["扣款失败"],
            row["待人工核对"],
            row["等待回盘"],
            row["未发指令"],
        ) == (
            fig["due"]["count"],
            fig["due"]["amount_fen"],
            fig["instructed"]["count"],
            fig["collected"]["count"],
            fig["collected"]["amount_fen"],
            fig["failed"]["count"],
            fig["review"]["count"],
            fig["awaiting"]["count"],
            fig["rejected"]["count"],
        )
    assert (total_row["应缴人数"], _fen(total_row["已扣款金额(元)"])) == (47, 929050)


def test_report__native_charts_on_summary(season: Season) -> None:
    """汇总 carries two native charts: a column chart (rate per township) and a bar chart
    (failures by reason)."""
    charts = season.book["汇总"]._charts
    assert sorted(c.barDir for c in charts) == ["bar", "col"]


def test_report__id_and_account_cells_are_text(season: Season) -> None:
    """No ID, batch, instruction or account cell of any list is numeric; accounts are masked
    to first 6 / last 4; a name that looks like a formula stays text."""
    seen = 0
    for name in LIST_SHEETS:
        ws = season.book[name]
        titles = [c.value for c in ws[1]]
        for col, title in enumerate(titles, start=1):
            if title not in TEXT_TITLES:
                continue
            for (cell,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
                if cell.value is None:
                    continue
                seen += 1
                assert (type(cell.value), cell.data_type) == (str, "s"), (name, cell)
                if title == "金融账号(脱敏)":
                    assert re.fullmatch(r"[0-9]{6}\*+[0-9]{4}", cell.value), cell.value
    # failed 2 and review 1 and refunds 1 rows x 5 text columns, rejected 24 x person_id only
    assert seen == 2 * 5 + 1 * 5 + 1 * 5 + 24
    rejected = _rows(season.book["未发指令名单"], 1)
    formula = [r for r in rejected if r["公民身份号码"] == "330283198001010169"]
    assert formula[0]["姓名"] == '=HYPERLINK("x")'
    ws = season.book["未发指令名单"]
    cells = [c for c in ws["D"] if c.value == '=HYPERLINK("x")']
    assert [c.data_type for c in cells] == ["s"]


def test_report__lists_are_exact(season: Season) -> None:
    """Failed, review and refund sheets list exactly the residents the season left there."""
    p = season.pids
    failed = _rows(season.book["扣款失败名单"], 1)
    assert sorted((r["公民身份号码"], r["原因代码"]) for r in failed) == sorted(
        [(p["ok_nbcb_1"], "ACCOUNT_NOT_ACTIVATED"), (p["ok_fhrc_0"], "ACCOUNT_NOT_ACTIVATED")]
    )
    assert {r["原因说明"] for r in failed} == {"社保卡金融账户未激活"}
    review = _rows(season.book["待人工核对"], 1)
    assert [(r["指令号"], r["原因代码"], _fen(r["金额(元)"])) for r in review] == [
        ("2027NBCB2026112902000001", "MISSING_RESULT", 54000)
    ]
    refunds = _rows(season.book["退款名单"], 1)
    got = [(r["公民身份号码"], r["原因代码"], r["退款原因"], _fen(r["金额(元)"])) for r in refunds]
    assert got == [(p["ok_icbc_0"], "DOUBLE_PAYMENT", "PAID_ELSEWHERE", 38000)]
    assert season.summary["exceptions"]["rejected"]["count"] == 24


def test_report__header_rows_frozen_and_filtered(season: Season) -> None:
    """Header rows are frozen on every sheet; table sheets have an autofilter on their header."""
    book = season.book
    assert book["汇总"].freeze_panes == "B4"
    for name in ["重扣回收", "数据质量", *LIST_SHEETS]:
        assert book[name].freeze_panes == "A2", name
        assert book[name].auto_filter.ref.startswith("A1:"), name


def test_report__same_figures_same_bytes(season: Season) -> None:
    """The wall clock does not reach the workbook: another hour gives the same bytes, and its
    created date is the business date."""
    first = (season.report_dir / "report.xlsx").read_bytes()
    _report(season.campaign, clock=datetime(2027, 1, 1, 23, 59, tzinfo=UTC))
    assert (season.report_dir / "report.xlsx").read_bytes() == first
    assert season.book.properties.created == datetime(2026, 12, 5)


def test_report__other_period_is_empty_not_an_error(season: Season) -> None:
    """A period the ledger does not know gives zero figures and a workbook of empty lists."""
    summary, report_dir = _report(season.campaign, period=2026)
    assert summary["period"] == 2026
    assert summary["totals"]["due"] == {"count": 0, "amount_fen": 0}
    assert summary["totals"]["collection_rate"] is None
    assert list(summary["townships"]) == TOWNSHIPS
    book = openpyxl.load_workbook(report_dir / "report.xlsx")
    assert [len(_rows(book[n], 1)) for n in LIST_SHEETS] == [0, 0, 0, 0, 0]
    assert len(book["汇总"]._charts) == 1  # nobody failed: no failure chart


def test_report__print_report_table(season: Season, capsys: pytest.CaptureFixture[str]) -> None:
    """The terminal table shows each township with due, collected, rate and the flag."""
    print_report(season.summary, season.report_dir)
    out = capsys.readouterr().out.splitlines()
    shangtian = next(line for line in out if line.strip().startswith("尚田镇"))
    assert shangtian.split() == [
        "尚田镇",
        "11",
        "3240.00",
        "0",
        "0.00",
        "0.0%",
        "2",
        "0",
        "0",
        "8",
        "!",
        "data",
        "quality",
    ]
    total = next(line for line in out if line.strip().startswith("total"))
    assert total.split()[1:6] == ["47", "22250.50", "17", "9290.50", "36.2%"]
    assert out[-1] == f"  report: {season.report_dir / 'report.xlsx'}"


# -- overdue ---------------------------------------------------------------------------------


def test_report__overdue_csv_lists_unanswered_instructions(campaign: Campaign) -> None:
    """Eight days after a build nobody answered, every instruction is overdue: report writes
    overdue.csv and the 超期未回盘 sheet with the same instructions."""
    assert campaign.build() == 0
    summary, report_dir = _report(campaign, as_of="2026-12-07")
    csv = pl.read_csv(report_dir / "exceptions" / "overdue.csv", infer_schema=False)
    with campaign.ledger() as ledger:
        ids = ledger.instructions(period=2027)["instruction_id"].sort().to_list()
    assert sorted(csv["instruction_id"].to_list()) == ids
    assert set(csv["reason_code"]) == {"OVERDUE_RESULT"}
    assert summary["exceptions"]["overdue"]["count"] == len(ids) == 21
    assert summary["totals"]["awaiting"]["count"] == 21
    book = openpyxl.load_workbook(report_dir / "report.xlsx")
    assert sorted(r["指令号"] for r in _rows(book["超期未回盘"], 1)) == ids
    fresh, _ = _report(campaign, as_of="2026-12-06")  # 7 days: not yet overdue
    assert fresh["exceptions"]["overdue"]["count"] == 0


# -- progress --------------------------------------------------------------------------------


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress__silent_when_not_a_tty() -> None:
    """Under cron (stderr not a terminal) nothing is written, however long the step."""
    out = io.StringIO()
    with progress("report", total=3, stream=out, delay=0, interval=0.01) as p:
        p.advance(3)
    assert out.getvalue() == ""


def test_progress__short_step_on_tty_shows_nothing() -> None:
    """A step shorter than the delay leaves the terminal untouched."""
    out = _Tty()
    with progress("report", stream=out, delay=60) as p:
        p.advance()
    assert out.getvalue() == ""


def test_progress__long_step_on_tty_shows_count_then_done() -> None:
    """A step past the delay redraws one line with its count and ends with a done line."""
    out = _Tty()
    with progress("rendering", total=4, stream=out, delay=0, interval=0.01) as p:
        p.update(2)
        for _ in range(200):  # wait (bounded) until the line has been drawn at least once
            if "2/4" in out.getvalue():
                break
            time.sleep(0.005)
    text = out.getvalue()
    assert re.search(r"\rrendering 2/4 \(50%\) [0-9]+s\x1b\[K", text)
    assert re.search(r"\rrendering done in [0-9.]+s\x1b\[K\n$", text)
    assert text.count("\n") == 1
