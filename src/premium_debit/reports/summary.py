"""summary.json (SPEC §9): every figure is {"count": n, "amount_fen": n}.

Pure functions of frames: no queries, no clock, explicit sort — so the output is stable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from premium_debit.workspace import write_atomic

Figure = dict[str, int]
BUCKETS = ("instructed", "excluded", "skipped", "rejected")


def figure(count: int = 0, amount_fen: int = 0) -> Figure:
    return {"count": int(count), "amount_fen": int(amount_fen)}


def figures_by(frame: pl.DataFrame, key: str, amount: str = "amount_fen") -> dict[str, Figure]:
    """{key value: figure} over ``frame``, keys sorted."""
    if frame.height == 0:
        return {}
    agg = frame.group_by(key).agg(n=pl.len(), fen=pl.col(amount).sum()).sort(key)
    return {str(k): figure(n, fen) for k, n, fen in agg.iter_rows()}


def total(frame: pl.DataFrame, amount: str = "amount_fen") -> Figure:
    return figure(frame.height, int(frame[amount].sum() or 0) if frame.height else 0)


def add(figs: Iterable[Figure]) -> Figure:
    out = figure()
    for f in figs:
        out["count"] += f["count"]
        out["amount_fen"] += f["amount_fen"]
    return out


def check(name: str, left: Figure, right: Figure, scope: str = "total") -> dict[str, Any]:
    return {"check": name, "scope": scope, "left": left, "right": right, "holds": left == right}


def conservation(checks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"holds": all(c["holds"] for c in checks), "checks": checks}


def render(summary: Mapping[str, Any]) -> bytes:
    return (json.dumps(summary, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def write_summary(path: Path, summary: Mapping[str, Any]) -> Path:
    write_atomic(path, render(summary))
    return path
