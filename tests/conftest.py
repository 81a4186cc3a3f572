"""Project-wide pytest options."""

from __future__ import annotations

import pytest

# -- golden files ----------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite golden files under fixtures/ instead of comparing against them",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


# -- results a test reports to the reader (e.g. the crash test's kill count) -----------------


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print every ``record_property("summary", text)`` of the run at its end."""
    lines = [
        str(value)
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        for name, value in getattr(report, "user_properties", [])
        if name == "summary"
    ]
    if lines:
        terminalreporter.section("reported by tests")
        for line in lines:
            terminalreporter.write_line(line)
