"""report.xlsx: pure rendering of ``ReportFigures`` with xlsxwriter (no queries, no clock).

Sheets: 汇总 (per township, per bank, totals, failure and rejection reasons, two native charts),
重扣回收 (retry recovery), 数据质量 (administrative failures, flagged rows highlighted) and one
sheet per exception list. Rules that keep the workbook safe and exact:

* every text cell — IDs, account numbers, names — is written with ``write_string``, and the
  workbook converts no string to a number, formula or URL: no digit is lost, nothing runs;
* yuan cells are ``fen / 100`` with a two-decimal format; totals are summed in fen first, so
  each yuan cell is the exact fen figure of summary.json divided by 100 (no spreadsheet SUM);
* the workbook's created date is the business date, so the same figures give the same bytes.

Writing a cell is per cell by nature of the format; the loops here walk figure tables (a few
dozen rows) and, for the lists, the rows being rendered — no computation happens in them.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl
import xlsxwriter

from premium_debit.reports.figures import (
    ADMIN_OUTCOMES,
    FAILURE_TEXTS,
    REJECTION_TEXTS,
    ReportFigures,
    reason_zh,
)

# Excel's last row is 1,048,576; a longer list continues on a second sheet, never truncated.
MAX_ROWS_PER_SHEET = 1_048_575

SUMMARY_SHEET = "汇总"
REASONS_SHEET = "原因分析"
RECOVERY_SHEET = "重扣回收"
QUALITY_SHEET = "数据质量"
LIST_SHEETS: tuple[tuple[str, str], ...] = (
    ("failed", "扣款失败名单"),
    ("review", "待人工核对"),
    ("refunds", "退款名单"),
    ("overdue", "超期未回盘"),
    ("rejected", "未发指令名单"),
)


@dataclass(frozen=True)
class ReportMeta:
    """What the workbook says about itself besides the figures."""

    period: int
    as_of: date
    run_id: str
    agency: str = ""
    bank_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    kind: str  # text | fen | int | rate
    width: float


# The per-scope table of the summary sheet: the same columns for townships and banks, so the
# frozen header reads right over both.
SCOPE_COLUMNS: tuple[Column, ...] = (
    Column("name", "镇街 / 银行", "text", 20),
    Column("due_count", "应缴人数", "int", 10),
    Column("due_fen", "应缴金额(元)", "fen", 15),
    Column("instructed_count", "已发指令人数", "int", 12),
    Column("collected_count", "已扣款人数", "int", 11),
    Column("collected_fen", "已扣款金额(元)", "fen", 15),
    Column("collection_rate", "扣款率", "rate", 9),
    Column("failed_count", "扣款失败", "int", 9),
    Column("review_count", "待人工核对", "int", 11),
    Column("awaiting_count", "等待回盘", "int", 9),
    Column("retry_pending_count", "等待重新扣款", "int", 12),
    Column("paid_elsewhere_count", "其他渠道已缴", "int", 12),
    Column("rejected_count", "未发指令", "int", 9),
    Column("excluded_count", "免缴(全额资助)", "int", 14),
)

REASON_COLUMNS: tuple[Column, ...] = (
    Column("reason_code", "原因代码", "text", 24),
    Column("reason_zh", "原因说明", "text", 34),
    Column("count", "人数", "int", 10),
    Column("amount_fen", "应缴金额(元)", "fen", 15),
)

RECOVERY_COLUMNS: tuple[Column, ...] = (
    Column("reason_code", "失败原因代码", "text", 22),
    Column("reason_zh", "失败原因", "text", 18),
    Column("attempt", "第几次扣款", "int", 11),
    Column("failed_count", "失败笔数", "int", 10),
    Column("failed_fen", "失败金额(元)", "fen", 15),
    Column("recovered_count", "其后扣款成功人数", "int", 16),
    Column("recovered_fen", "其后扣款成功金额(元)", "fen", 20),
    Column("recovery_rate", "回收率", "rate", 9),
)

_ADMIN_TITLES = {
    "ACCOUNT_NOT_ACTIVATED": "金融账户未激活",
    "ACCOUNT_CLOSED": "金融账户已销户",
    "ACCOUNT_NOT_FOUND": "账户不存在",
    "NAME_MISMATCH": "户名不符",
}
QUALITY_COLUMNS: tuple[Column, ...] = (
    Column("township", "镇街", "text", 14),
    Column("instructions", "指令笔数", "int", 10),
    Column("admin_failures", "行政类失败笔数", "int", 14),
    *(Column(o, _ADMIN_TITLES[o], "int", 14) for o in ADMIN_OUTCOMES),
    Column("share", "行政类失败占比", "rate", 14),
    Column("threshold", "阈值", "rate", 8),
    Column("flag", "需核查", "text", 8),
)

LIST_COLUMNS: tuple[Column, ...] = (
    Column("township", "镇街", "text", 12),
    Column("village", "村社区", "text", 12),
    Column("person_id", "公民身份号码", "text", 20),
    Column("name", "姓名", "text", 12),
    Column("amount_fen", "金额(元)", "fen", 12),
    Column("reason_code", "原因代码", "text", 22),
    Column("reason_zh", "原因说明", "text", 26),
    Column("action_zh", "处理建议", "text", 44),
    Column("attempts", "扣款次数", "int", 9),
    Column("bank_code", "银行代码", "text", 9),
    Column("batch_id", "批次号", "text", 21),
    Column("instruction_id", "指令号", "text", 27),
    Column("account_no_masked", "金融账号(脱敏)", "text", 22),
    Column("debited_fen", "实扣金额(元)", "fen", 13),
    Column("resident_state", "参保人状态", "text", 16),
    Column("cause", "退款原因", "text", 16),
)
_LIST_BY_KEY = {c.key: c for c in LIST_COLUMNS}


class _Formats:
    """The workbook's cell formats, created once."""

    def __init__(self, wb: Any) -> None:
        base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter"}
        self.title = wb.add_format({**base, "bold": True, "font_size": 14})
        self.note = wb.add_format({**base, "font_color": "#595959"})
        self.header = wb.add_format(
            {
                **base,
                "bold": True,
                "bg_color": "#DDEBF7",
                "border": 1,
                "text_wrap": True,
                "align": "center",
            }
        )
        self.section = wb.add_format({**base, "bold": True, "font_size": 11})
        self.cells = {
            "text": wb.add_format({**base, "num_format": "@"}),
            "fen": wb.add_format({**base, "num_format": "#,##0.00"}),
            "int": wb.add_format({**base, "num_format": "#,##0"}),
            "rate": wb.add_format({**base, "num_format": "0.0%"}),
        }
        total = {**base, "bold": True, "top": 1, "bg_color": "#F2F2F2"}
        self.totals = {
            "text": wb.add_format({**total, "num_format": "@"}),
            "fen": wb.add_format({**total, "num_format": "#,##0.00"}),
            "int": wb.add_format({**total, "num_format": "#,##0"}),
            "rate": wb.add_format({**total, "num_format": "0.0%"}),
        }
        flag = {**base, "bg_color": "#FFC7CE", "font_color": "#9C0006"}
        self.flagged = {
            "text": wb.add_format({**flag, "num_format": "@"}),
            "fen": wb.add_format({**flag, "num_format": "#,##0.00"}),
            "int": wb.add_format({**flag, "num_format": "#,##0"}),
            "rate": wb.add_format({**flag, "num_format": "0.0%"}),
        }


def _write_cell(ws: Any, row: int, col: int, *, kind: str, value: Any, fmt: Any) -> None:
    """One cell by kind; a null is left blank (but keeps the row's format)."""
    if value is None:
        ws.write_blank(row, col, None, fmt)
    elif kind == "text":
        ws.write_string(row, col, str(value), fmt)
    elif kind == "fen":
        # Display only: the exact figure is the integer fen in summary.json; fen / 100 of an
        # integer below 2**53 round-trips to the same fen.
        ws.write_number(row, col, int(value) / 100, fmt)
    else:
        ws.write_number(row, col, value, fmt)


def _header(ws: Any, row: int, columns: Sequence[Column], f: _Formats) -> None:
    for col, c in enumerate(columns):
        ws.write_string(row, col, c.title, f.header)


def _widths(ws: Any, columns: Sequence[Column]) -> None:
    for col, c in enumerate(columns):
        ws.set_column(col, col, c.width)


def _rows(
    ws: Any,
    row0: int,
    frame: pl.DataFrame,
    columns: Sequence[Column],
    fmts: Mapping[str, Any],
    *,
    row_fmts: Sequence[Mapping[str, Any] | None] | None = None,
) -> int:
    """Write ``frame``'s ``columns`` from ``row0``, column by column; returns the next row."""
    for col, c in enumerate(columns):
        values = frame[c.key].to_list() if c.key in frame.columns else [None] * frame.height
        for i, value in enumerate(values):
            special = row_fmts[i] if row_fmts is not None else None
            fmt = (special or fmts)[c.kind]
            _write_cell(ws, row0 + i, col, kind=c.kind, value=value, fmt=fmt)
    return row0 + frame.height


# -- 汇总 and 原因 ---------------------------------------------------------------------------


def _page_setup(ws: Any, header_rows: int) -> None:
    """Print landscape on A4, one page wide, the header repeated on every page."""
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    if header_rows:
        ws.repeat_rows(0, header_rows - 1)


def _summary_sheet(
    ws: Any,
    wb: Any,
    figs: ReportFigures,
    meta: ReportMeta,
    f: _Formats,
    *,
    failure_rows: tuple[int, int, int] | None,
) -> None:
    cols = SCOPE_COLUMNS
    _widths(ws, cols)
    _page_setup(ws, 3)
    title = f"{meta.agency} {meta.period}年度城乡居民医保保费代扣报告".strip()
    ws.merge_range(0, 0, 0, len(cols) - 1, title, f.title)
    ws.write_string(
        1,
        0,
        f"业务日期 {meta.as_of.isoformat()}    运行号 {meta.run_id}    人数按参保人当前状态统计",
        f.note,
    )
    _header(ws, 2, cols, f)
    ws.freeze_panes(3, 1)
    first = 3
    row = _rows(ws, first, figs.townships, cols, f.cells)
    last_township = row - 1
    row = _rows(ws, row, figs.totals, cols, f.totals) + 1

    ws.write_string(row, 0, "按银行(以参保人最后一次扣款指令的银行计;未发指令者不计入)", f.section)
    row += 1
    _header(ws, row, cols, f)
    row += 1
    banks = figs.banks.with_columns(
        name=pl.col("name").replace_strict(
            list(meta.bank_names),
            [f"{code} {name}".strip() for code, name in meta.bank_names.items()],
            default=pl.col("name"),
            return_dtype=pl.String,
        )
    )
    row = _rows(ws, row, banks, cols, f.cells) + 1

    if figs.townships.height:
        rate_col = [c.key for c in cols].index("collection_rate")
        chart = wb.add_chart({"type": "column"})
        chart.add_series(
            {
                "name": "扣款率",
                "categories": [SUMMARY_SHEET, first, 0, last_township, 0],
                "values": [SUMMARY_SHEET, first, rate_col, last_township, rate_col],
                "data_labels": {"value": True, "num_format": "0.0%"},
                "fill": {"color": "#4472C4"},
            }
        )
        chart.set_title({"name": "各镇街扣款率(已扣款人数 / 应缴人数)", "name_font": {"size": 11}})
        chart.set_y_axis(
            {"num_format": "0%", "min": 0, "max": 1, "major_gridlines": {"visible": True}}
        )
        chart.set_legend({"none": True})
        ws.insert_chart(row, 0, chart, {"x_scale": 1.25, "y_scale": 1.1})
    if failure_rows is not None:
        r0, r1, largest = failure_rows
        chart = wb.add_chart({"type": "bar"})
        chart.add_series(
            {
                "name": "扣款失败人数",
                "categories": [REASONS_SHEET, r0, 1, r1, 1],
                "values": [REASONS_SHEET, r0, 2, r1, 2],
                "data_labels": {"value": True},
                "fill": {"color": "#C00000"},
            }
        )
        chart.set_title({"name": "扣款失败原因(人数)", "name_font": {"size": 11}})
        chart.set_y_axis({"reverse": True})  # registry order, top to bottom
        # Whole people: about five gridlines, never a fractional step.
        chart.set_x_axis({"min": 0, "major_unit": max(1, -(-largest // 5)), "num_format": "#,##0"})
        chart.set_legend({"none": True})
        ws.insert_chart(row, 7, chart, {"x_scale": 1.25, "y_scale": 1.1})


def _reasons_sheet(wb: Any, figs: ReportFigures, f: _Formats) -> tuple[int, int, int] | None:
    """Failure and rejection reasons in total; returns the first and last row of the failure
    table and its largest count (for the chart), or None when nobody failed."""
    ws = wb.add_worksheet(REASONS_SHEET)
    _widths(ws, REASON_COLUMNS)
    _page_setup(ws, 0)
    row, failure_rows = 0, None
    for kind, label, texts in (
        ("failed", "扣款失败原因(按参保人当前状态,FAILED)", FAILURE_TEXTS),
        ("rejected", "未发指令原因(REJECTED)", REJECTION_TEXTS),
    ):
        part = figs.reasons.filter(
            (pl.col("scope") == "total") & (pl.col("kind") == kind)
        ).with_columns(reason_zh=reason_zh(pl.col("reason_code"), texts))
        ws.write_string(row, 0, label, f.section)
        _header(ws, row + 1, REASON_COLUMNS, f)
        row += 2
        if kind == "failed" and part.height:
            failure_rows = (row, row + part.height - 1, max(part["count"].to_list()))
        end = _rows(ws, row, part, REASON_COLUMNS, f.cells)
        totals = pl.DataFrame(
            {
                "reason_code": ["合计"],
                "count": [int(part["count"].sum() or 0)],
                "amount_fen": [int(part["amount_fen"].sum() or 0)],
            }
        )
        row = _rows(ws, end, totals, REASON_COLUMNS, f.totals) + 1
    return failure_rows


# -- 重扣回收, 数据质量 -------------------------------------------------------------------------


def _table_sheet(
    wb: Any,
    name: str,
    frame: pl.DataFrame,
    columns: Sequence[Column],
    f: _Formats,
    *,
    note: str,
    row_fmts: Sequence[Mapping[str, Any] | None] | None = None,
) -> Any:
    ws = wb.add_worksheet(name)
    _widths(ws, columns)
    _page_setup(ws, 1)
    _header(ws, 0, columns, f)
    ws.freeze_panes(1, 0)
    end = _rows(ws, 1, frame, columns, f.cells, row_fmts=row_fmts)
    ws.autofilter(0, 0, max(end - 1, 0), len(columns) - 1)
    ws.write_string(end + 1, 0, note, f.note)
    return ws


def _recovery_sheet(wb: Any, figs: ReportFigures, f: _Formats) -> None:
    frame = figs.retry_recovery.with_columns(reason_zh=reason_zh(pl.col("reason_code")))
    note = "每行:在第 N 次扣款以该原因失败的指令,及其中参保人以后某次扣款成功的人数与金额"
    _table_sheet(wb, RECOVERY_SHEET, frame, RECOVERY_COLUMNS, f, note=note)


def _quality_sheet(wb: Any, figs: ReportFigures, f: _Formats) -> None:
    dq = figs.data_quality.with_columns(
        threshold=pl.lit(figs.admin_threshold, pl.Float64),
        flag=pl.when(pl.col("flagged")).then(pl.lit("是")).otherwise(pl.lit(None, pl.String)),
    )
    row_fmts = [f.flagged if flagged else None for flagged in dq["flagged"].to_list()]
    note = (
        "行政类失败:金融账户未激活、已销户、账户不存在、户名不符。占比超过阈值的镇街"
        "(红色)请核查社保卡金融账户数据。"
    )
    _table_sheet(wb, QUALITY_SHEET, dq, QUALITY_COLUMNS, f, note=note, row_fmts=row_fmts)


# -- exception lists -------------------------------------------------------------------------


def _list_sheets(wb: Any, figs: ReportFigures, f: _Formats) -> None:
    for key, title in LIST_SHEETS:
        frame: pl.DataFrame = getattr(figs, key)
        columns = [_LIST_BY_KEY[c] for c in frame.columns if c in _LIST_BY_KEY]
        chunks = max(1, -(-frame.height // MAX_ROWS_PER_SHEET))
        for n in range(chunks):
            name = title if n == 0 else f"{title}({n + 1})"
            ws = wb.add_worksheet(name)
            _widths(ws, columns)
            _page_setup(ws, 1)
            _header(ws, 0, columns, f)
            ws.freeze_panes(1, 0)
            part = frame.slice(n * MAX_ROWS_PER_SHEET, MAX_ROWS_PER_SHEET)
            end = _rows(ws, 1, part, columns, f.cells)
            ws.autofilter(0, 0, max(end - 1, 0), len(columns) - 1)


# -- the workbook ----------------------------------------------------------------------------


def render_xlsx(figs: ReportFigures, meta: ReportMeta) -> bytes:
    """The whole report.xlsx as bytes; the same figures and meta give the same bytes."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(
        buf,
        {
            "in_memory": True,
            # A string stays a string: no "=..." formula, no number that loses an ID's digits.
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    created = datetime(meta.as_of.year, meta.as_of.month, meta.as_of.day)
    wb.set_properties(
        {
            "title": f"{meta.period}年度保费代扣报告",
            "subject": f"业务日期 {meta.as_of.isoformat()}",
            "author": meta.agency or "premium-debit",
            "company": meta.agency,
            "comments": f"run {meta.run_id}",
            "created": created,
        }
    )
    f = _Formats(wb)
    summary = wb.add_worksheet(SUMMARY_SHEET)  # first tab; filled once the reasons are placed
    failure_rows = _reasons_sheet(wb, figs, f)
    _summary_sheet(summary, wb, figs, meta, f, failure_rows=failure_rows)
    _recovery_sheet(wb, figs, f)
    _quality_sheet(wb, figs, f)
    _list_sheets(wb, figs, f)
    wb.close()
    return buf.getvalue()
