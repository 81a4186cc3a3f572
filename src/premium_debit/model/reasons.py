"""The one registry of reason codes: SPEC §3 (pre-debit), §4.3 (bank outcomes), §5 (review
classes) and §9 (double payment, overdue result).

Each code carries its Chinese description, the operator's next action and who must act. Every
other module refers to codes through this registry, so a code's text lives in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Actor(StrEnum):
    RESIDENT = "resident"
    BANK = "bank"
    AGENCY = "agency"


class Kind(StrEnum):
    REJECTED = "rejected"  # build: the due record is not instructed until its cause is fixed
    EXCLUDED = "excluded"  # build: nothing to collect
    SKIPPED = "skipped"  # build: the ledger already knows the resident's fate
    OUTCOME = "outcome"  # reconcile: what the bank did with an instruction
    REVIEW = "review"  # reconcile: a result that cannot be trusted
    NOTICE = "notice"  # lists for the operator: refunds, overdue results


@dataclass(frozen=True)
class Reason:
    code: str
    kind: Kind
    zh: str
    action_zh: str
    actor: Actor
    retryable: bool = False


_R = Reason
_RES, _BANK, _AG = Actor.RESIDENT, Actor.BANK, Actor.AGENCY

# SPEC §3, in precedence order: the first that applies decides. Do not reorder.
PRE_DEBIT: tuple[Reason, ...] = (
    _R(
        "INVALID_PERSON_ID",
        Kind.REJECTED,
        "身份证号码无效",
        "核对身份证号码后更正应缴名单重新报送",
        _AG,
    ),
    _R(
        "INVALID_NAME", Kind.REJECTED, "姓名为空或含非法字符", "更正应缴名单中的姓名后重新报送", _AG
    ),
    _R(
        "INVALID_AMOUNT",
        Kind.REJECTED,
        "应缴金额无效",
        "核对应缴金额(最多两位小数,不超过上限)后重新报送",
        _AG,
    ),
    _R(
        "UNKNOWN_TOWNSHIP",
        Kind.REJECTED,
        "镇街不在本次征缴范围",
        "核对镇街名称或在配置中增加该镇街",
        _AG,
    ),
    _R("UNKNOWN_CATEGORY", Kind.REJECTED, "参保类别无效", "核对参保类别或在配置中增加该类别", _AG),
    _R(
        "PERIOD_MISMATCH",
        Kind.REJECTED,
        "缴费年度不符",
        "核对缴费年度,与本次征缴年度一致后重新报送",
        _AG,
    ),
    _R(
        "DUPLICATE_DUE",
        Kind.REJECTED,
        "同一人员在应缴名单中重复",
        "与镇街核实,保留一条记录后重新报送",
        _AG,
    ),
    _R("ZERO_DUE", Kind.EXCLUDED, "应缴金额为0(全额资助)", "无需扣款,由财政资助", _AG),
    _R("ALREADY_COLLECTED", Kind.SKIPPED, "本年度已扣款成功", "无需处理", _AG),
    _R("PAID_ELSEWHERE", Kind.SKIPPED, "已通过其他渠道缴费", "无需处理", _AG),
    _R("IN_FLIGHT", Kind.SKIPPED, "已有扣款指令等待银行结果", "等待银行回盘后对账", _BANK),
    _R("IN_REVIEW", Kind.SKIPPED, "扣款结果待人工核对", "在复核清单中核实后用 resolve 处理", _AG),
    _R("RETRY_PENDING", Kind.SKIPPED, "等待重新扣款", "由 retry 在间隔期满后自动重新扣款", _AG),
    _R(
        "FAILED_FINAL", Kind.SKIPPED, "扣款失败,需其他方式缴费", "通知参保人通过柜台或APP缴费", _RES
    ),
    _R(
        "NO_CARD_ACCOUNT",
        Kind.REJECTED,
        "无社保卡金融账户信息",
        "通知参保人申领社保卡或通过其他渠道缴费",
        _RES,
    ),
    _R(
        "NAME_MISMATCH",
        Kind.REJECTED,
        "姓名与社保卡信息不一致",
        "核对姓名,更正应缴名单或社保卡信息",
        _AG,
    ),
    _R(
        "CARD_NOT_USABLE",
        Kind.REJECTED,
        "社保卡挂失或注销",
        "通知参保人补换社保卡或通过其他渠道缴费",
        _RES,
    ),
    _R(
        "ACCOUNT_NOT_ACTIVATED",
        Kind.REJECTED,
        "社保卡金融账户未激活",
        "通知参保人到合作银行网点激活金融账户",
        _RES,
    ),
    _R(
        "ACCOUNT_FROZEN",
        Kind.REJECTED,
        "金融账户冻结",
        "通知参保人联系开户银行解冻或通过其他渠道缴费",
        _RES,
    ),
    _R("ACCOUNT_CLOSED", Kind.REJECTED, "金融账户已销户", "通知参保人通过其他渠道缴费", _RES),
    _R("NOT_AUTHORIZED", Kind.REJECTED, "未签订代扣授权", "通知参保人到银行网点签订代扣授权", _RES),
    _R("INVALID_ACCOUNT_NO", Kind.REJECTED, "金融账号校验失败", "与社保卡中心核对金融账号", _AG),
    _R(
        "BANK_NOT_CONFIGURED",
        Kind.REJECTED,
        "开户银行未开通代扣",
        "在配置中开通该银行或通知参保人其他渠道缴费",
        _AG,
    ),
    _R("AMBIGUOUS_ACCOUNT", Kind.REJECTED, "存在多个可用账户", "与社保卡中心核实唯一有效账户", _AG),
    _R(
        "NAME_NOT_ENCODABLE",
        Kind.REJECTED,
        "姓名含银行文件编码无法表示的字符",
        "与银行约定生僻字处理方式或改用GB18030",
        _AG,
    ),
    _R("NAME_TOO_LONG", Kind.REJECTED, "姓名超出银行文件字段长度", "与银行核对姓名字段长度", _AG),
)

# SPEC §4.3: what a bank did with an instruction.
OUTCOMES: tuple[Reason, ...] = (
    _R("SUCCEEDED", Kind.OUTCOME, "扣款成功", "无需处理", _AG),
    _R(
        "INSUFFICIENT_FUNDS",
        Kind.OUTCOME,
        "余额不足",
        "提醒参保人存入足额资金,系统将自动重新扣款",
        _RES,
        True,
    ),
    _R(
        "ACCOUNT_FROZEN",
        Kind.OUTCOME,
        "金融账户冻结",
        "通知参保人联系开户银行解冻或通过其他渠道缴费",
        _RES,
    ),
    _R("ACCOUNT_CLOSED", Kind.OUTCOME, "金融账户已销户", "通知参保人通过其他渠道缴费", _RES),
    _R("ACCOUNT_NOT_FOUND", Kind.OUTCOME, "账户不存在", "与社保卡中心核对金融账号", _AG),
    _R(
        "NAME_MISMATCH",
        Kind.OUTCOME,
        "姓名与社保卡信息不一致",
        "核对姓名,更正应缴名单或社保卡信息",
        _AG,
    ),
    _R("CARD_LOST", Kind.OUTCOME, "社保卡已挂失", "通知参保人补换社保卡或通过其他渠道缴费", _RES),
    _R(
        "ACCOUNT_NOT_ACTIVATED",
        Kind.OUTCOME,
        "社保卡金融账户未激活",
        "通知参保人到合作银行网点激活金融账户",
        _RES,
    ),
    _R(
        "LIMIT_EXCEEDED",
        Kind.OUTCOME,
        "超过扣款限额",
        "系统将自动重新扣款;多次失败请联系银行",
        _BANK,
        True,
    ),
    _R(
        "BANK_SYSTEM_ERROR",
        Kind.OUTCOME,
        "银行系统错误",
        "系统将自动重新扣款;持续出现请联系银行",
        _BANK,
        True,
    ),
)

# SPEC §5: a result row that cannot be trusted puts the instruction in review, never in retry.
REVIEW_CLASSES: tuple[Reason, ...] = (
    _R(
        "MISSING_RESULT",
        Kind.REVIEW,
        "银行回盘缺少该笔结果",
        "向银行查询该笔是否已扣款,再用 resolve 处理",
        _BANK,
    ),
    _R(
        "UNEXPECTED_RESULT",
        Kind.REVIEW,
        "回盘含有未发出的指令",
        "向银行核实该笔记录来源,不影响参保人",
        _BANK,
    ),
    _R(
        "DUPLICATE_RESULT",
        Kind.REVIEW,
        "同一指令有多条回盘结果",
        "向银行核实实际扣款次数,再用 resolve 处理",
        _BANK,
    ),
    _R(
        "AMOUNT_MISMATCH",
        Kind.REVIEW,
        "回盘金额与指令金额不符",
        "向银行核实实际扣款金额,再用 resolve 处理",
        _BANK,
    ),
    _R(
        "ACCOUNT_MISMATCH",
        Kind.REVIEW,
        "回盘账号与指令账号不符",
        "向银行核实扣款账户,再用 resolve 处理",
        _BANK,
    ),
    _R(
        "PARTIAL_DEBIT",
        Kind.REVIEW,
        "实扣金额与结果不符",
        "向银行核实实扣金额,必要时退款,再用 resolve 处理",
        _BANK,
    ),
    _R(
        "UNKNOWN_CODE",
        Kind.REVIEW,
        "银行返回码无法识别",
        "向银行确认返回码含义并更新配置,再用 resolve 处理",
        _BANK,
    ),
    _R(
        "SECOND_SUCCESS",
        Kind.REVIEW,
        "同一人员本年度第二次扣款成功",
        "核实后办理退款,再用 resolve 处理",
        _AG,
    ),
)

# Paid-elsewhere records (SPEC §2.3) that cannot be used; they change nothing.
PAID_LIST: tuple[Reason, ...] = (
    _R(
        "INVALID_PAID_DATE",
        Kind.REJECTED,
        "缴费日期无效",
        "核对缴费日期(YYYY-MM-DD,不晚于业务日期)后重新报送",
        _AG,
    ),
)

NOTICES: tuple[Reason, ...] = (
    _R("DOUBLE_PAYMENT", Kind.NOTICE, "重复缴费,需退款", "核实后为参保人办理退款", _AG),
    _R(
        "OVERDUE_RESULT",
        Kind.NOTICE,
        "扣款指令超期未回盘",
        "联系银行催要回盘文件,不要重新发送指令",
        _BANK,
    ),
)

# A code may appear in more than one table (ACCOUNT_FROZEN is both a pre-debit rejection and a
# bank outcome); the texts agree, so one lookup by code serves every list.
REASONS: dict[str, Reason] = {}
for _reason in PRE_DEBIT + OUTCOMES + REVIEW_CLASSES + PAID_LIST + NOTICES:
    REASONS.setdefault(_reason.code, _reason)

PRE_DEBIT_CODES: tuple[str, ...] = tuple(r.code for r in PRE_DEBIT)
OUTCOME_CODES: tuple[str, ...] = tuple(r.code for r in OUTCOMES)
REVIEW_CODES: tuple[str, ...] = tuple(r.code for r in REVIEW_CLASSES)
RETRYABLE_OUTCOMES: frozenset[str] = frozenset(r.code for r in OUTCOMES if r.retryable)

# SPEC §4.3 shipped defaults: bank code → outcome, per built-in format.
DEFAULT_CODES: dict[str, dict[str, str]] = {
    "pipe": {
        "0000": "SUCCEEDED",
        "1001": "INSUFFICIENT_FUNDS",
        "1002": "ACCOUNT_FROZEN",
        "1003": "ACCOUNT_CLOSED",
        "1004": "ACCOUNT_NOT_FOUND",
        "1005": "NAME_MISMATCH",
        "1006": "CARD_LOST",
        "1007": "ACCOUNT_NOT_ACTIVATED",
        "1008": "LIMIT_EXCEEDED",
        "9999": "BANK_SYSTEM_ERROR",
    },
    "fixed": {
        "00": "SUCCEEDED",
        "51": "INSUFFICIENT_FUNDS",
        "62": "ACCOUNT_FROZEN",
        "78": "ACCOUNT_CLOSED",
        "14": "ACCOUNT_NOT_FOUND",
        "15": "NAME_MISMATCH",
        "41": "CARD_LOST",
        "16": "ACCOUNT_NOT_ACTIVATED",
        "61": "LIMIT_EXCEEDED",
        "96": "BANK_SYSTEM_ERROR",
    },
}


def reason(code: str) -> Reason:
    """The registry entry of ``code``; an unknown code is a bug, not data."""
    return REASONS[code]
