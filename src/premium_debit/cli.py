"""The command line: parse arguments → call one library function → print → exit code.

This is the only place that turns errors into messages and exit codes (SPEC §8): one plain line
saying what and where, no traceback unless ``--debug``.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from premium_debit import __version__
from premium_debit.config import DEFAULT_CONFIG_NAME, Config, load_config
from premium_debit.errors import (
    EXIT_INTERNAL,
    EXIT_OK,
    ConfigError,
    PremiumDebitError,
)
from premium_debit.simulate.names import FAULTS, PROFILE_NAMES

Handler = Callable[[argparse.Namespace], int]


def _as_of(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--config",
        type=Path,
        default=Path(DEFAULT_CONFIG_NAME),
        help=f"configuration file (default ./{DEFAULT_CONFIG_NAME})",
    )
    p.add_argument(
        "--as-of",
        type=_as_of,
        default=None,
        metavar="YYYY-MM-DD",
        help="business date (default today)",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    return p


def _debug_only() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    return p


# -- command handlers ------------------------------------------------------------------------


def _session(args: argparse.Namespace, command: str) -> tuple[Config, Any]:
    """Load configuration, set up logging and the run context for ``command``."""
    from premium_debit import logs
    from premium_debit.pipeline.context import RunContext

    cfg = load_config(args.config)
    as_of = args.as_of or date.today()
    ctx = RunContext.start(cfg, command, as_of)
    ctx.ws.create()
    logs.configure(ctx.ws.logs, debug=args.debug)
    logs.bind_run(ctx.run_id, command)
    logs.get_logger().info("run_started", as_of=ctx.as_of_text, config=str(args.config))
    return cfg, ctx


def cmd_init(args: argparse.Namespace) -> int:
    from importlib import resources

    from premium_debit.workspace import Workspace, write_atomic

    folder: Path = args.dir
    target = folder / DEFAULT_CONFIG_NAME
    if target.exists() and not args.force:
        raise ConfigError(f"{target}: already exists (use --force to overwrite)")
    sample = resources.files("premium_debit").joinpath("sample_config.toml").read_bytes()
    write_atomic(target, sample)
    cfg = load_config(target)
    Workspace(cfg.workdir).create()
    print(f"wrote {target}")
    print(f"work folder {cfg.workdir} (inbox, outbox, archive, quarantine, reports, logs)")
    return EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    from premium_debit.ledger.lock import workdir_lock
    from premium_debit.ledger.store import Ledger
    from premium_debit.pipeline.build import run_build
    from premium_debit.pipeline.outbox import restore_outbox
    from premium_debit.reports.console import print_build
    from premium_debit.reports.progress import progress

    cfg, ctx = _session(args, "build")
    if args.dry_run:
        with Ledger(ctx.ws.ledger_path) as ledger:
            result = run_build(ctx, ledger, args.due, args.registry, args.paid or (), dry_run=True)
    else:
        with workdir_lock(ctx.ws.root), Ledger(ctx.ws.ledger_path) as ledger, progress("build"):
            restore_outbox(ledger, ctx.ws, cfg)
            result = run_build(ctx, ledger, args.due, args.registry, args.paid or ())
    print_build(result.summary, result.report_dir, ctx.ws.outbox)
    return EXIT_OK


def cmd_reconcile(args: argparse.Namespace) -> int:
    from premium_debit.errors import EXIT_INPUT_REFUSED
    from premium_debit.ledger.lock import workdir_lock
    from premium_debit.ledger.store import Ledger
    from premium_debit.pipeline.outbox import restore_outbox
    from premium_debit.pipeline.reconcile import run_reconcile
    from premium_debit.reports.console import print_reconcile
    from premium_debit.reports.progress import progress
    from premium_debit.reports.reconcile_report import write_reconcile_outputs

    cfg, ctx = _session(args, "reconcile")
    with workdir_lock(ctx.ws.root), Ledger(ctx.ws.ledger_path) as ledger, progress("reconcile"):
        restore_outbox(ledger, ctx.ws, cfg)
        result = run_reconcile(ctx, ledger, args.files)
        report_dir = ctx.ws.reports / ctx.run_id
        summary = write_reconcile_outputs(
            report_dir,
            ledger,
            result.files,
            ctx.as_of,
            cfg.reconcile.overdue_days,
            ctx.period,
            ctx.run_id,
        )
    print_reconcile(summary, report_dir)
    for f in result.refused:
        print(f"premium-debit reconcile: refused {f.reason}", file=sys.stderr)
    return EXIT_INPUT_REFUSED if result.refused else EXIT_OK


def cmd_retry(args: argparse.Namespace) -> int:
    from premium_debit.ledger.lock import workdir_lock
    from premium_debit.ledger.store import Ledger
    from premium_debit.pipeline.outbox import restore_outbox
    from premium_debit.pipeline.retry import run_retry
    from premium_debit.reports.console import print_retry

    cfg, ctx = _session(args, "retry")
    if args.dry_run:
        with Ledger(ctx.ws.ledger_path) as ledger:
            result = run_retry(ctx, ledger, dry_run=True)
    else:
        with workdir_lock(ctx.ws.root), Ledger(ctx.ws.ledger_path) as ledger:
            restore_outbox(ledger, ctx.ws, cfg)
            result = run_retry(ctx, ledger)
    print_retry(result.summary, result.candidates, list_all=args.dry_run)
    return EXIT_OK


def cmd_paid(args: argparse.Namespace) -> int:
    from premium_debit.ledger.lock import workdir_lock
    from premium_debit.ledger.store import Ledger
    from premium_debit.pipeline.paid import run_paid

    _cfg, ctx = _session(args, "paid")
    with workdir_lock(ctx.ws.root), Ledger(ctx.ws.ledger_path) as ledger:
        summary = run_paid(ctx, ledger, args.files)
    print(
        f"paid {ctx.run_id}: {summary['paid']['count']:,} paid-elsewhere records accepted, "
        f"{summary['moved_to_paid_elsewhere']['count']:,} residents now PAID_ELSEWHERE, "
        f"{summary['refunds']['count']:,} refund candidates"
    )
    print(f"  report: {summary['report_dir']}")
    return EXIT_OK


def cmd_resolve(args: argparse.Namespace) -> int:
    import getpass

    from premium_debit.ledger.lock import workdir_lock
    from premium_debit.ledger.store import Ledger
    from premium_debit.pipeline.resolve import run_resolve

    _cfg, ctx = _session(args, "resolve")
    operator = args.operator or getpass.getuser()
    with workdir_lock(ctx.ws.root), Ledger(ctx.ws.ledger_path) as ledger:
        res = run_resolve(ctx, ledger, args.instruction, args.decision, args.note, operator)
    refund = " — on the refund list (also paid elsewhere)" if res.refund else ""
    print(
        f"resolved {res.instruction_id} as {res.decision} by {operator}; "
        f"resident is {res.resident_state}{refund}"
    )
    return EXIT_OK


def cmd_nightly(args: argparse.Namespace) -> int:
    from premium_debit.errors import EXIT_INPUT_REFUSED
    from premium_debit.ledger.lock import workdir_lock
    from premium_debit.ledger.store import Ledger
    from premium_debit.pipeline.nightly import run_nightly, write_nightly_outputs
    from premium_debit.reports.progress import progress

    _cfg, ctx = _session(args, "nightly")
    with workdir_lock(ctx.ws.root), Ledger(ctx.ws.ledger_path) as ledger, progress("nightly"):
        result = run_nightly(ctx, ledger)
        report_dir = write_nightly_outputs(ctx, ledger, result)
    print(
        f"nightly {ctx.run_id} as of {ctx.as_of_text}: {len(result.accepted)} files accepted, "
        f"{len(result.refused)} refused, {len(result.waiting)} left waiting"
    )
    for step, summary in result.steps.items():
        if isinstance(summary, dict):
            print(f"  {step}: done")
    for refused in result.refused:
        print(f"premium-debit nightly: refused {refused['reason']}", file=sys.stderr)
    print(f"  report: {report_dir}")
    return EXIT_INPUT_REFUSED if result.refused else EXIT_OK


def cmd_simulate_bank(args: argparse.Namespace) -> int:
    from premium_debit.simulate.bank import simulate_bank

    cfg = load_config(args.config)
    written = simulate_bank(
        args.files,
        args.out,
        cfg,
        seed=args.seed,
        profile=args.profile,
        fault=args.fault,
        processed=args.as_of,
    )
    for path in written:
        print(f"wrote {path}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from premium_debit.ledger.store import Ledger
    from premium_debit.reports.progress import progress
    from premium_debit.reports.report import print_report, run_report

    _cfg, ctx = _session(args, "report")
    with Ledger(ctx.ws.ledger_path) as ledger, ledger.snapshot(), progress("report"):
        summary, report_dir = run_report(ctx, ledger, args.period)
    print_report(summary, report_dir)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from premium_debit.ledger.store import Ledger
    from premium_debit.reports.export import write_export

    _cfg, ctx = _session(args, "export")
    with Ledger(ctx.ws.ledger_path) as ledger, ledger.snapshot():
        n = write_export(ledger, args.out, args.period)
    print(f"exported {n} residents to {args.out}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from premium_debit.simulate.demo import run_demo

    return run_demo(args)


# -- parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="premium-debit",
        description="Withhold resident medical-insurance premiums from social-security-card "
        "accounts: due lists → bank batches → reconciled results.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common, debug = _common(), _debug_only()

    p = sub.add_parser("init", parents=[debug], help="write a sample configuration and folders")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("--force", action="store_true", help="overwrite an existing configuration")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("build", parents=[common], help="due lists → bank request files")
    p.add_argument("--due", type=Path, nargs="+", required=True, metavar="FILE")
    p.add_argument("--registry", type=Path, required=True, metavar="FILE")
    p.add_argument("--paid", type=Path, nargs="+", metavar="FILE")
    p.add_argument("--dry-run", action="store_true", help="classify and report; write nothing")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("reconcile", parents=[common], help="ingest bank result files")
    p.add_argument("files", type=Path, nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_reconcile)

    p = sub.add_parser("retry", parents=[common], help="re-instruct RETRY_PENDING residents")
    p.add_argument(
        "--dry-run", action="store_true", help="list who would be retried; write nothing"
    )
    p.set_defaults(func=cmd_retry)

    p = sub.add_parser("paid", parents=[common], help="ingest paid-elsewhere lists")
    p.add_argument("files", type=Path, nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_paid)

    p = sub.add_parser("resolve", parents=[common], help="settle a review case")
    p.add_argument("--instruction", required=True, metavar="ID")
    p.add_argument("--as", dest="decision", required=True, choices=["succeeded", "failed"])
    p.add_argument("--note", required=True, metavar="TEXT")
    p.add_argument("--operator", default=None, metavar="NAME", help="default: the login name")
    p.set_defaults(func=cmd_resolve)

    p = sub.add_parser("report", parents=[common], help="write the operator report for the period")
    p.add_argument("--period", type=int, default=None)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("nightly", parents=[common], help="the cron entry: inbox → ledger → outbox")
    p.set_defaults(func=cmd_nightly)

    p = sub.add_parser(
        "simulate-bank",
        parents=[common],
        help="play a bank: answer request files with result files",
    )
    p.add_argument("files", type=Path, nargs="+", metavar="FILE")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", default="pilot", choices=PROFILE_NAMES, help="outcome mix")
    p.add_argument("--fault", default=None, choices=FAULTS, help="plant one defect per file")
    p.set_defaults(func=cmd_simulate_bank)

    p = sub.add_parser("export", parents=[common], help="one CSV row per resident and period")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.csv")
    p.add_argument("--period", type=int, default=None)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("demo", parents=[debug], help="a whole campaign on generated data")
    p.add_argument("--out", type=Path, default=Path("demo-out"), metavar="DIR")
    p.add_argument("--residents", type=int, default=120_000, metavar="N")
    p.add_argument("--seed", type=int, default=2027, metavar="S")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.func
    try:
        return handler(args)
    except PremiumDebitError as exc:
        _log_failure(exc)
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"premium-debit {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"premium-debit {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the one place a bug becomes exit 70
        _log_failure(exc)
        if getattr(args, "debug", False):
            traceback.print_exc()
        where = ""
        tb = traceback.extract_tb(exc.__traceback__)
        if tb:
            where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}"
        print(
            f"premium-debit {args.command}: internal error{where}: "
            f"{type(exc).__name__}: {exc} (run again with --debug for details)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _log_failure(exc: BaseException) -> None:
    try:
        from premium_debit.logs import get_logger

        get_logger().error("run_failed", error=str(exc), error_type=type(exc).__name__)
    except Exception:  # logging must never hide the real failure
        pass
