"""``premium-debit demo``: a whole campaign on generated data for the six pilot townships, through
the same commands an operator runs:

    generate → build → bank answers → reconcile → retry after the wait → bank answers
             → reconcile → paid-elsewhere list → report

Business dates are fixed (the 2027 campaign, late 2026) so the demo tells the same story on any
day; the wall-clock only shows in run ids and log times.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from importlib import resources
from pathlib import Path
from typing import Any

from premium_debit.errors import EXIT_OK, ConfigError
from premium_debit.model.money import yuan_text
from premium_debit.model.reasons import REASONS

MARKER = ".premium-debit-demo"
DAYS = {
    "build": "2026-11-29",
    "reconcile": "2026-11-30",
    "retry": "2026-12-03",
    "reconcile_retry": "2026-12-04",
    "paid": "2026-12-05",
    "report": "2026-12-05",
}


def _prepare(out: Path) -> Path:
    """A clean demo folder with the sample configuration; refuses a folder that is not ours."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise ConfigError(
                f"{out}: folder is not empty and not an earlier demo; choose another --out"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("premium-debit demo folder: safe to delete\n", "utf-8")
    sample = resources.files("premium_debit").joinpath("sample_config.toml").read_text("utf-8")
    config = out / "premium-debit.toml"
    config.write_text(sample, "utf-8")
    return config


def _step(n: int, text: str) -> None:
    print(f"\n== {n}. {text}", flush=True)


def _cli(*args: str | Path) -> int:
    from premium_debit.cli import main

    code = main([str(a) for a in args])
    if code not in (0,):
        raise SystemExit(code)
    return code


def _latest_summary(workdir: Path, command: str) -> dict[str, Any]:
    runs = sorted(p for p in (workdir / "reports").iterdir() if f"-{command}-" in p.name)
    return dict(json.loads((runs[-1] / "summary.json").read_text("utf-8")))


def _split_paid(paid: Path, folder: Path) -> tuple[Path, Path]:
    """Most counter payments are known before the debit; the last tenth arrives late."""
    import polars as pl

    frame = pl.read_csv(paid, infer_schema=False)
    cut = frame.height - frame.height // 10
    early, late = folder / "paid_before_debit.csv", folder / "paid_late.csv"
    frame.head(cut).write_csv(early)
    frame.tail(frame.height - cut).write_csv(late)
    return early, late


def run_demo(args: argparse.Namespace) -> int:
    from premium_debit.config import load_config
    from premium_debit.simulate.bank import simulate_bank
    from premium_debit.simulate.generate import generate_campaign

    started = time.perf_counter()
    out: Path = args.out
    config = _prepare(out)
    cfg = load_config(config)
    work = cfg.workdir
    common: list[str | Path] = ["--config", config]

    _step(1, f"generate a campaign: {args.residents:,} residents in six pilot townships")
    files = generate_campaign(out / "inputs", residents=args.residents, seed=args.seed)
    print(f"due lists: {', '.join(p.name for p in files.due)}")
    print(f"registry: {files.registry.name}; paid elsewhere: {files.paid.name}")

    early, late = _split_paid(files.paid, out / "inputs")
    _step(
        2,
        f"build the debit batches (business date {DAYS['build']}); residents who already "
        "paid at the counter are left out",
    )
    _cli(
        "build",
        *common,
        "--as-of",
        DAYS["build"],
        "--due",
        *files.due,
        "--registry",
        files.registry,
        "--paid",
        early,
    )

    _step(3, "the banks answer (simulated: the pilot's mix of outcomes)")
    requests = sorted((work / "outbox").rglob("*.req"))
    day1 = simulate_bank(requests, out / "bank" / "day1", cfg, seed=args.seed, profile="pilot")
    print(f"{len(day1)} result files in {out / 'bank' / 'day1'}")

    _step(4, f"reconcile the results ({DAYS['reconcile']})")
    _cli("reconcile", *common, "--as-of", DAYS["reconcile"], *day1)

    _step(
        5,
        f"retry insufficient funds after the {cfg.retry.min_days_between}-day wait "
        f"({DAYS['retry']})",
    )
    before = set(sorted((work / "outbox").rglob("*.req")))
    _cli("retry", *common, "--as-of", DAYS["retry"])
    retries = sorted(set((work / "outbox").rglob("*.req")) - before)

    _step(6, "the banks answer the retries (simulated: most now succeed)")
    day4 = simulate_bank(
        retries, out / "bank" / "day4", cfg, seed=args.seed + 1, profile="recovering"
    )
    _cli("reconcile", *common, "--as-of", DAYS["reconcile_retry"], *day4)

    _step(7, "a late paid-elsewhere list arrives: some of them were debited too (refunds)")
    _cli("paid", *common, "--as-of", DAYS["paid"], late)

    _step(8, "the operator's report")
    _cli("report", *common, "--as-of", DAYS["report"])

    report = _latest_summary(work, "report")
    totals = report["totals"]
    _step(9, "where the campaign stands")
    print(
        f"collected: {totals['collected']['count']:,} residents, "
        f"{yuan_text(totals['collected']['amount_fen'])} yuan"
    )
    print(
        f"collection rate: {totals['collection_rate']:.1%} of {totals['due']['count']:,} "
        f"residents due; {totals['retry_pending']['count']:,} still waiting for a retry"
    )
    for title, key in (
        ("debit failed, pay another way", "failed_reasons"),
        ("not instructed (rejected before debit)", "rejected_reasons"),
    ):
        print(f"{title}:")
        for code, fig in sorted(totals[key].items(), key=lambda kv: (-kv[1]["count"], kv[0])):
            print(f"  {code:<24}{fig['count']:>8,}  {REASONS[code].zh if code in REASONS else ''}")
    lists = report.get("exceptions", {})
    if lists:
        print(
            "exception lists: "
            + ", ".join(
                f"{k} {v['count']:,}" if isinstance(v, dict) else f"{k} {v}"
                for k, v in lists.items()
            )
        )
    print(f"\nlook at: {work / 'reports'} (summary.json, exceptions/*.csv, report.xlsx)")
    print(f"         {work / 'outbox'} (request files), {out / 'bank'} (simulated results)")
    print(f"done in {time.perf_counter() - started:.1f} s")
    return EXIT_OK
