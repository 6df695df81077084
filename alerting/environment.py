"""What the alert pipeline takes from the process environment, read at the command line's edge.

``spendwatch alerter`` and ``spendwatch demo`` call :func:`alert_environment` with
``os.environ`` and hand the result down; :mod:`alerting.pipeline` itself never reads the
environment, so a pipeline built in a test or a library sees only what it is given.

- ``SPENDWATCH_SLACK_TOKEN`` (or the file ``SPENDWATCH_SLACK_TOKEN_FILE``): the bot token; none
  means console alerts;
- ``SPENDWATCH_SLACK_BASE_URL``: Slack's Web API base URL (a local double in tests);
- ``SPENDWATCH_ROUTES``: a routes file, instead of ``alerting.routes_file``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from spendwatch.errors import ConfigError


@dataclass(frozen=True)
class AlertEnvironment:
    """Deployment values for the alert pipeline (all optional; the ``alerting`` settings apply otherwise)."""

    slack_token: str | None = field(default=None, repr=False)
    slack_base_url: str | None = None
    routes_file: str | None = None


def slack_token(environ: Mapping[str, str]) -> str | None:
    """The bot token from ``SPENDWATCH_SLACK_TOKEN`` or the file ``SPENDWATCH_SLACK_TOKEN_FILE``."""
    if environ.get("SPENDWATCH_SLACK_TOKEN"):
        return environ["SPENDWATCH_SLACK_TOKEN"].strip()
    path = environ.get("SPENDWATCH_SLACK_TOKEN_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise ConfigError(f"SPENDWATCH_SLACK_TOKEN_FILE: cannot read {path}: {exc.strerror}") from None
    return None


def alert_environment(environ: Mapping[str, str]) -> AlertEnvironment:
    """The pipeline's environment variables, read from ``environ`` (the caller passes ``os.environ``)."""
    return AlertEnvironment(slack_token=slack_token(environ),
                            slack_base_url=environ.get("SPENDWATCH_SLACK_BASE_URL") or None,
                            routes_file=environ.get("SPENDWATCH_ROUTES") or None)
