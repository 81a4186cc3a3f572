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

Handler = Callable[[argparse.Namespace], int]


def _as_of(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--config", type=Path, default=Path(DEFAULT_CONFIG_NAME),
                   help=f"configuration file (default ./{DEFAULT_CONFIG_NAME})")  # fmt: skip
    p.add_argument("--as-of", type=_as_of, default=None, metavar="YYYY-MM-DD",
                   help="business date (default today)")  # fmt: skip
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

    cfg, ctx = _session(args, "build")
    if args.dry_run:
        with Ledger(ctx.ws.ledger_path) as ledger:
            result = run_build(ctx, ledger, args.due, args.registry, args.paid or (), dry_run=True)
    else:
        with workdir_lock(ctx.ws.root), Ledger(ctx.ws.ledger_path) as ledger:
            restore_outbox(ledger, ctx.ws, cfg)
            result = run_build(ctx, ledger, args.due, args.registry, args.paid or ())
    print_build(result.summary, result.report_dir, ctx.ws.outbox)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from premium_debit.ledger.store import Ledger
    from premium_debit.reports.export import write_export

    cfg, ctx = _session(args, "export")
    with Ledger(ctx.ws.ledger_path) as ledger:
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

    p = sub.add_parser("export", parents=[common], help="one CSV row per resident and period")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.csv")
    p.add_argument("--period", type=int, default=None)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("demo", parents=[debug], help="a whole campaign on generated data")
    p.add_argument("--out", type=Path, default=Path("demo-out"), metavar="DIR")
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
