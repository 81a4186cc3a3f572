"""Write docs/reason-codes.md from the one registry of reason codes, so the page cannot drift.

    python docs/gen_reason_codes.py           # rewrite docs/reason-codes.md
    python docs/gen_reason_codes.py --check   # exit 1 when the committed page is stale

Everything on the page comes from ``premium_debit.model.reasons`` (codes, Chinese texts, actions,
actors, retryability, default result codes) and ``premium_debit.model.states`` (which state makes
build skip a record); only the headings and the short explanations are written here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from premium_debit.model.reasons import (
    DEFAULT_CODES,
    NOTICES,
    OUTCOMES,
    PAID_LIST,
    PRE_DEBIT,
    REASONS,
    REVIEW_CLASSES,
    Actor,
    Reason,
)
from premium_debit.model.states import SKIP_REASON

PAGE = Path(__file__).with_name("reason-codes.md")

ACTOR_TEXT = {
    Actor.RESIDENT: "resident 参保人",
    Actor.BANK: "bank 银行",
    Actor.AGENCY: "agency 经办机构",
}

# Which exception list carries each notice (SPEC §9).
NOTICE_LIST = {"DOUBLE_PAYMENT": "`refunds.csv`", "OVERDUE_RESULT": "`overdue.csv`"}


def _cell(text: str) -> str:
    """A table cell: a literal ``|`` would end the cell."""
    return text.replace("|", "\\|")


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _common(r: Reason) -> list[str]:
    return [r.zh, r.action_zh, ACTOR_TEXT[r.actor]]


def _pre_debit() -> list[str]:
    skip_state = {code: state.value for state, code in SKIP_REASON.items()}
    rows = []
    for i, r in enumerate(PRE_DEBIT, start=1):
        when = f"state `{skip_state[r.code]}`" if r.code in skip_state else ""
        rows.append([str(i), r.kind.value, f"`{r.code}`", *_common(r), when])
    out = [
        "## 1. Pre-debit outcomes (`build`)",
        "",
        "Every due record (应缴名单中的一条记录) ends a build in exactly one bucket. The reasons",
        "are checked in this order (SPEC §3) and the first that applies decides; a record none",
        "applies to is **instructed** (已生成扣款指令). Rejected records are listed in",
        "`rejected.csv` and return to the next build once their cause is fixed. Skipped records",
        "are decided by the resident's state in the ledger (last column); build never changes",
        "that state.",
        "",
    ]
    out += _table(
        ["#", "bucket", "code", "中文说明", "next action 下一步", "who acts", "skipped when"], rows
    )
    return out


def _outcomes() -> list[str]:
    code_of: dict[str, dict[str, str]] = {
        fmt: {outcome: code for code, outcome in codes.items()}
        for fmt, codes in DEFAULT_CODES.items()
    }
    rows = []
    for r in OUTCOMES:
        pipe, fixed = code_of["pipe"].get(r.code, ""), code_of["fixed"].get(r.code, "")
        retry = "yes" if r.retryable else ("—" if r.code == "SUCCEEDED" else "no")
        rows.append([f"`{r.code}`", retry, f"`{pipe}`", f"`{fixed}`", *_common(r)])
    out = [
        "## 2. Bank outcomes (`reconcile`)",
        "",
        "What the bank did with an instruction (SPEC §4.3). Each bank maps its own result codes",
        "to these outcomes; the codes below are the shipped defaults of the two built-in formats",
        "(a bank's `[banks.codes]` replaces the map). A retryable failure makes the resident",
        "`RETRY_PENDING` (or `FAILED` when it was the last allowed attempt); any other failure",
        "makes the resident `FAILED`. A code the map lacks is the review class `UNKNOWN_CODE`.",
        "",
    ]
    out += _table(
        ["outcome", "retryable", "`pipe` code", "`fixed` code", "中文说明", "next action 下一步",
         "who acts"],
        rows,
    )  # fmt: skip
    return out


def _review() -> list[str]:
    rows = [[f"`{r.code}`", *_common(r)] for r in REVIEW_CLASSES]
    out = [
        "## 3. Review classes (`reconcile`)",
        "",
        "A result row that cannot be trusted puts its instruction in review (待人工核对), never",
        "in retry: the bank may have taken the money. The resident is `REVIEW` until an operator",
        "settles the case with `premium-debit resolve` (see docs/reconciliation.md).",
        "`UNEXPECTED_RESULT` names no instruction of the batch and affects no resident; it is",
        "listed in `unexpected.csv` only.",
        "",
    ]
    out += _table(["class", "中文说明", "next action 下一步", "who acts"], rows)
    return out


def _paid() -> list[str]:
    rows = [[f"`{r.code}`", *_common(r)] for r in PAID_LIST]
    out = [
        "## 4. Paid-list rejections (`paid`, `build --paid`, `nightly`)",
        "",
        "A paid-elsewhere record (其他渠道缴费) that cannot be used changes nothing and is listed",
        "in the run's `rejected.csv`. Besides the code below, a paid record is rejected with",
        "`INVALID_PERSON_ID`, `INVALID_AMOUNT` or `PERIOD_MISMATCH` (texts in section 1), checked",
        "in that order before the date.",
        "",
    ]
    out += _table(["code", "中文说明", "next action 下一步", "who acts"], rows)
    return out


def _notices() -> list[str]:
    rows = [[f"`{r.code}`", NOTICE_LIST.get(r.code, ""), *_common(r)] for r in NOTICES]
    out = [
        "## 5. Notices",
        "",
        "Lists for the operator that are not the outcome of one record.",
        "",
    ]
    out += _table(["code", "list", "中文说明", "next action 下一步", "who acts"], rows)
    return out


def _shared_codes() -> list[str]:
    tables = {
        "pre-debit": PRE_DEBIT, "bank outcome": OUTCOMES, "review": REVIEW_CLASSES,
        "paid list": PAID_LIST, "notice": NOTICES,
    }  # fmt: skip
    seen: dict[str, list[tuple[str, Reason]]] = {}
    for table, reasons in tables.items():
        for r in reasons:
            seen.setdefault(r.code, []).append((table, r))
    shared = {code: entries for code, entries in seen.items() if len(entries) > 1}
    if not shared:
        return []
    out = [
        "## Codes in more than one table",
        "",
        "A code may be both a pre-debit reason and a bank outcome. The exception lists",
        "(`failed.csv`, `rejected.csv`, …) fill `reason_zh`, `action_zh` and `actor` by code",
        "from its first entry (last column), whichever table the row comes from.",
        "",
    ]
    rows = []
    for code, entries in shared.items():
        tables_text = " and ".join(t for t, _ in entries)
        first = REASONS[code]
        same = all(_common(r) == _common(first) for _, r in entries)
        texts = "the same" if same else "differ"
        rows.append([f"`{code}`", tables_text, texts, f"{first.zh}: {first.action_zh}"])
    out += _table(["code", "tables", "texts", "lists show"], rows)
    return out


def render() -> str:
    """The whole page, as committed."""
    lines = [
        "# Reason codes",
        "",
        "<!-- Generated by docs/gen_reason_codes.py from premium_debit.model.reasons;",
        "     do not edit by hand. Run `python docs/gen_reason_codes.py` after changing the",
        "     registry; tests/test_docs.py fails while this page is stale. -->",
        "",
        "Every code the program reports, with its Chinese description (`reason_zh` in the",
        "exception lists), the operator's next action (`action_zh`) and who must act (`actor`):",
        "",
        "* **resident 参保人** — the resident must do something (top up, activate, pay",
        "  another way); the agency tells them;",
        "* **bank 银行** — ask the bank (a missing result file, a row that does not add up);",
        "* **agency 经办机构** — the agency fixes its own data or configuration, or settles",
        "  a case.",
        "",
        "Section 1 is in precedence order; the other sections are in registry order.",
        "",
    ]
    for section in (_pre_debit(), _outcomes(), _review(), _paid(), _notices(), _shared_codes()):
        if section:
            lines += [*section, ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: Sequence[str]) -> int:
    text = render()
    if "--check" in argv:
        current = PAGE.read_text("utf-8") if PAGE.exists() else ""
        if current != text:
            print(f"{PAGE} is stale: run python docs/gen_reason_codes.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text, "utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
