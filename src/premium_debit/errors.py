"""Exceptions of the program, not of the data, and the exit code each one maps to.

Bad *data* inside a readable file is never an exception: it becomes a reject row with a
reason code. These exceptions are for the cases SPEC §8 gives an exit code:

* 65 a whole input was refused (unreadable file, missing column, a result file that does not
  add up, an operation the ledger's state forbids);
* 75 another run holds the lock, or a transient failure outlasted its retries;
* 78 configuration error;
* 70 internal error (anything else).

They become a one-line message and an exit code in one place only: ``cli.main``.
"""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_INPUT_REFUSED = 65
EXIT_INTERNAL = 70
EXIT_TEMPFAIL = 75
EXIT_CONFIG = 78


class PremiumDebitError(Exception):
    """Base of every error this program raises on purpose."""

    exit_code = EXIT_INTERNAL


class InputRefused(PremiumDebitError):
    """A whole input file cannot be used; nothing it carries may be recorded.

    The message names the file and, where known, the line and field.
    """

    exit_code = EXIT_INPUT_REFUSED

    def __init__(
        self,
        file: str | Path,
        problem: str,
        *,
        line: int | None = None,
        field: str | None = None,
        details: list[str] | None = None,
    ) -> None:
        self.file = str(file)
        self.problem = problem
        self.line = line
        self.field = field
        # Every problem found, one line each, when the file had more than the one in the message.
        self.details = details or []
        where = self.file
        if line is not None:
            where += f": line {line}"
        if field is not None:
            where += f", field {field}" if line is not None else f": field {field}"
        super().__init__(f"{where}: {problem}")


class OperationRefused(PremiumDebitError):
    """The command is well-formed but the ledger's state forbids it (e.g. resolving a
    non-review instruction)."""

    exit_code = EXIT_INPUT_REFUSED


class ConfigError(PremiumDebitError):
    """The configuration is missing or wrong; the message names the key."""

    exit_code = EXIT_CONFIG


class TransientError(PremiumDebitError):
    """A failure that may pass by itself (busy ledger, shared folder hiccup)."""

    exit_code = EXIT_TEMPFAIL


class LockHeld(TransientError):
    """Another run holds the work folder's lock."""


class InternalError(PremiumDebitError):
    """A broken promise inside the program: a bug, never bad input."""

    exit_code = EXIT_INTERNAL
