"""Deploy tests print what they rendered (lint and template summaries per value set) at the end."""

from __future__ import annotations

from typing import Any

import pytest

SUMMARIES: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SUMMARIES:
        terminalreporter.section("helm chart: lint and template per value set")
        for line in SUMMARIES:
            terminalreporter.write_line(line)


@pytest.fixture
def summary() -> list[str]:
    return SUMMARIES
