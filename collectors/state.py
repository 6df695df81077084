"""Where collectors keep their state (billing ledger, publisher spool) by default.

In order: ``$SPENDWATCH_STATE_DIR``; ``$XDG_STATE_HOME/spendwatch``; ``~/.local/state/spendwatch``
(the XDG default). The container image sets ``SPENDWATCH_STATE_DIR=/app/data``, a directory its
user (uid 10001) owns. Nothing is written under ``/var/lib`` unless a setting says so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from spendwatch.errors import ConfigError


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The default state directory (not created here)."""
    env = os.environ if environ is None else environ
    if env.get("SPENDWATCH_STATE_DIR"):
        return Path(env["SPENDWATCH_STATE_DIR"]).expanduser()
    if env.get("XDG_STATE_HOME"):
        return Path(env["XDG_STATE_HOME"]).expanduser() / "spendwatch"
    return Path(env.get("HOME") or Path.home()).expanduser() / ".local" / "state" / "spendwatch"


def ensure_dir(path: Path, what: str, setting: str) -> Path:
    """Create ``path`` (and parents) or raise a ConfigError that says which setting to change."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{what}: cannot create {path}: {exc.strerror}; set SPENDWATCH_STATE_DIR or "
                          f"{setting} to a writable directory") from None
    if not os.access(path, os.W_OK):
        raise ConfigError(f"{what}: {path} is not writable by this user (uid {os.getuid()}); set "
                          f"SPENDWATCH_STATE_DIR or {setting} to a writable directory")
    return path
