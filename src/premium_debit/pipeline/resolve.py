"""``premium-debit resolve``: an operator settles a review case (SPEC §5).

Only an instruction in review can be resolved. The decision is kept with who, when and why; the
resident becomes COLLECTED or FAILED (a resident who meanwhile paid elsewhere stays so, and a
success is then a refund).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from premium_debit.errors import OperationRefused
from premium_debit.ledger.store import Ledger
from premium_debit.logs import get_logger
from premium_debit.pipeline.context import RunContext


@dataclass(frozen=True)
class Resolution:
    instruction_id: str
    decision: str
    person_id: str
    resident_state: str
    refund: bool


def run_resolve(
    ctx: RunContext, ledger: Ledger, instruction_id: str, decision: str, note: str, operator: str
) -> Resolution:
    if decision not in ("succeeded", "failed"):
        raise OperationRefused(f"--as must be succeeded or failed, not {decision!r}")
    if not note.strip():
        raise OperationRefused("--note must say why (it is kept with the decision)")
    inst = ledger.instruction(instruction_id)
    if inst is None:
        raise OperationRefused(f"instruction {instruction_id} is unknown")
    if inst["status"] != "REVIEW":
        raise OperationRefused(
            f"instruction {instruction_id} is {inst['status']}, not in review; only a review "
            "case can be resolved"
        )
    person, period = inst["person_id"], inst["period"]
    others = ledger.instructions(period=period, status="SUCCEEDED").filter(
        pl.col("person_id") == person
    )
    if decision == "succeeded" and others.height:
        raise OperationRefused(
            f"resident already has a collected success ({others['instruction_id'][0]}); "
            "resolve this one as failed and refund it"
        )
    residents = ledger.residents(period).filter(pl.col("person_id") == person)
    state = residents["state"][0] if residents.height else None
    paid = state == "PAID_ELSEWHERE"
    # A resident already collected by another instruction stays collected (a second success
    # settled as failed is a refund matter, not a failure of the resident).
    keep = paid or (decision == "failed" and others.height > 0)
    new_state = state if keep else ("COLLECTED" if decision == "succeeded" else "FAILED")
    refund = paid and decision == "succeeded"
    now = ctx.now_iso()
    status = "SUCCEEDED" if decision == "succeeded" else "FAILED"
    with ledger.write() as w:
        w.add_run(ctx.run_id, "resolve", ctx.as_of_text, now)
        w.add_resolution(instruction_id, decision, operator, note, ctx.run_id, now)
        w.settle_instructions(
            pl.DataFrame(
                {
                    "instruction_id": [instruction_id],
                    "status": [status],
                    # The review class stays: it says why the instruction was reviewed.
                    "outcome": [inst["outcome"]],
                    "debited_fen": [inst["amount_fen"] if decision == "succeeded" else 0],
                    "result_sha256": [inst["result_sha256"]],
                    "result_line": [inst["result_line"]],
                }
            )
        )
        if residents.height and not keep:
            w.change_states(
                residents.select(
                    "person_id",
                    "period",
                    "attempts",
                    state=pl.lit(new_state),
                    last_reason=pl.lit(
                        None if decision == "succeeded" else inst["outcome"], pl.String
                    ),
                    instruction_id=pl.lit(instruction_id),
                ),
                run_id=ctx.run_id,
                at=now,
                business_date=ctx.as_of_text,
            )
        if refund:
            w.add_refunds(
                pl.DataFrame(
                    {
                        "person_id": [person],
                        "period": [period],
                        "instruction_id": [instruction_id],
                        "amount_fen": [inst["amount_fen"]],
                        "cause": ["PAID_ELSEWHERE"],
                        "run_id": [ctx.run_id],
                        "at": [now],
                    }
                )
            )
    get_logger().info(
        "review_resolved",
        instruction_id=instruction_id,
        decision=decision,
        operator=operator,
        resident_state=new_state,
    )
    return Resolution(instruction_id, decision, person, str(new_state), refund)
