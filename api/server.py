"""Running the API and dashboard (``spendwatch serve``, ``spendwatch demo --serve``) with uvicorn.

What the server needs from the process environment is read by :func:`serve_environment` at the
command line's edge and handed down:

- ``SPENDWATCH_API_TOKEN`` (or the file ``SPENDWATCH_API_TOKEN_FILE``): the write token; none:
  read-only;
- ``SPENDWATCH_SLACK_SIGNING_SECRET`` (or ``..._FILE``): serve Slack's interactivity request
  URL at ``/slack/actions``; ``SPENDWATCH_SLACK_TOKEN[_FILE]`` and ``SPENDWATCH_SLACK_BASE_URL``:
  to update the message after a button;
- ``SPENDWATCH_KAFKA``: publish ``feedback`` events to ``spendwatch.feedback`` through the
  collectors' spooling publisher (:mod:`collectors.publisher`); unset: history only.

None of these values is ever logged.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.app import ApiOptions, create_app
from spendwatch.config import Settings
from spendwatch.errors import ConfigError, ExternalError
from spendwatch.history import HistoryStore, open_store
from spendwatch.teams import unallocated_team

log = logging.getLogger("spendwatch.api")


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


@dataclass(frozen=True)
class ServeEnvironment:
    token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_token: str | None = field(default=None, repr=False)
    slack_base_url: str | None = None
    kafka: bool = False


def serve_environment(environ: Mapping[str, str]) -> ServeEnvironment:
    """What ``spendwatch serve`` takes from the environment (the caller passes ``os.environ``)."""
    from alerting.environment import slack_token

    return ServeEnvironment(token=_secret(environ, "SPENDWATCH_API_TOKEN"),
                            slack_signing_secret=_secret(environ, "SPENDWATCH_SLACK_SIGNING_SECRET"),
                            slack_token=slack_token(environ),
                            slack_base_url=environ.get("SPENDWATCH_SLACK_BASE_URL") or None,
                            kafka=bool(environ.get("SPENDWATCH_KAFKA")))


class FeedbackPublisher:
    """Hands ``feedback`` events to Kafka through the collectors' spooling publisher."""

    def __init__(self, settings: Settings) -> None:
        from collectors.publisher import publisher_from_settings

        self.publisher = publisher_from_settings(settings, "feedback")

    def __call__(self, event: dict[str, Any]) -> bool:
        self.publisher.publish(event)
        return True

    def close(self) -> None:
        self.publisher.close()


@dataclass
class Served:
    """A built app and what it holds open."""

    app: Any
    store: HistoryStore
    publisher: FeedbackPublisher | None = None

    def close(self) -> None:
        if self.publisher is not None:
            self.publisher.close()
        self.store.close()


def build(settings: Settings, db: str | None, env: ServeEnvironment) -> Served:
    """The app over the history store at ``db`` with what ``env`` says (and ``teams.unallocated``
    from ``settings``: the team of anomalies with no workload)."""
    store = open_store(db)
    publisher = FeedbackPublisher(settings) if env.kafka else None
    options = ApiOptions(token=env.token, publish=publisher, slack_signing_secret=env.slack_signing_secret,
                         slack_token=env.slack_token, slack_base_url=env.slack_base_url,
                         unallocated_team=unallocated_team(settings))
    return Served(create_app(store, options), store, publisher)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: a free one); a clear error when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ExternalError(f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def _server(app: Any) -> Any:
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))


def run_forever(app: Any, sock: socket.socket) -> None:
    """Serve until SIGINT/SIGTERM."""
    _server(app).run(sockets=[sock])


class BackgroundServer:
    """The app served from a thread (tests, ``demo --serve`` waits on it)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = bind(host, port)
        self.url = url_of(self.sock)
        self.server = _server(app)
        self.server.install_signal_handlers = lambda: None  # not the main thread
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True,
                                       name="spendwatch-api")

    def start(self, timeout_s: float = 10.0) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            raise ExternalError(f"the API server did not start within {timeout_s:.0f}s")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
