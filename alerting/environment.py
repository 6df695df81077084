"""What the alert pipeline takes from the process environment, read at the command line's edge.

``spendwatch alerter`` and ``spendwatch demo`` call :func:`alert_environment` with
``os.environ`` and hand the result down; :mod:`alerting.pipeline` itself never reads the
environment, so a pipeline built in a test or a library sees only what it is given.

- ``SPENDWATCH_SLACK_TOKEN`` (or the file ``SPENDWATCH_SLACK_TOKEN_FILE``): the bot token; none
  means console alerts;
- ``SPENDWATCH_SLACK_BASE_URL``: Slack's Web API base URL (a local double in tests);
- ``SPENDWATCH_ROUTES``: a routes file, instead of ``alerting.routes_file``;
- ``SPENDWATCH_WEBHOOK_SECRET_<NAME>``: the HMAC secret of the webhook ``NAME`` (upper case, other
  characters as ``_``) of ``alerting.webhooks``;
- ``SPENDWATCH_SMTP_PASSWORD`` (or the file ``SPENDWATCH_SMTP_PASSWORD_FILE``): the SMTP login's password.
"""

from __future__ import annotations

import re
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
    webhook_secrets: Mapping[str, str] = field(default_factory=dict, repr=False)  # variable name -> secret
    smtp_password: str | None = field(default=None, repr=False)

    def webhook_secret(self, name: str, secret_file: str | None = None) -> str | None:
        """The secret of webhook ``name``: its variable, else ``secret_file``."""
        given = self.webhook_secrets.get(webhook_secret_var(name))
        if given:
            return given
        if secret_file:
            try:
                return Path(secret_file).read_text(encoding="utf-8").strip() or None
            except OSError as exc:
                raise ConfigError(f"webhook {name}: cannot read secret_file {secret_file}: {exc.strerror}") from None
        return None


def webhook_secret_var(name: str) -> str:
    """``SPENDWATCH_WEBHOOK_SECRET_<NAME>`` for webhook ``name``."""
    return "SPENDWATCH_WEBHOOK_SECRET_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


def _secret(environ: Mapping[str, str], name: str) -> str | None:
    if environ.get(name):
        return environ[name].strip() or None
    path = environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise ConfigError(f"{name}_FILE: cannot read {path}: {exc.strerror}") from None
    return None


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
                            routes_file=environ.get("SPENDWATCH_ROUTES") or None,
                            webhook_secrets={k: v for k, v in environ.items()
                                             if k.startswith("SPENDWATCH_WEBHOOK_SECRET_") and v},
                            smtp_password=_secret(environ, "SPENDWATCH_SMTP_PASSWORD"))
