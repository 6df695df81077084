"""Webhook (signed JSON) and e-mail (SMTP) notifiers behind the same interface, routed by the same tree,
against a local HTTP receiver and a local SMTP server (aiosmtpd) started here."""

from __future__ import annotations

import email
import email.policy
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from test_slack_alerts import T0, anomaly

from alerting.environment import AlertEnvironment, alert_environment
from alerting.notifiers.base import NotifyError
from alerting.notifiers.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookNotifier, signature
from alerting.pipeline import build_alert_pipeline
from spendwatch.config import Settings
from spendwatch.errors import ConfigError

SECRET = "whsec-test-5a1f"


class Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_next: list[int] = []
        self.url = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = state.fail_next.pop(0) if state.fail_next else 204
            if status < 300:
                state.requests.append(({k: v for k, v in self.headers.items()}, body))
            self.send_response(status)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp() -> Iterator[tuple[int, list[Any]]]:
    from aiosmtpd.controller import Controller

    got: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            got.append(envelope)
            return "250 OK"

    with socket.socket() as probe:  # aiosmtpd's readiness check cannot use port 0: take a free one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield port, got
    finally:
        ctl.stop()


def routes(webhook_url: str | None = None, smtp_port: int | None = None) -> Settings:
    alerting: dict[str, Any] = {"min_post_interval_s": 0.0, "route": {
        "channel": "#spendwatch", "group_wait_s": 0,
        "routes": [{"match": {"team": "vision"}, "channel": "webhook:ops", "continue": True},
                   {"match": {"team": "vision"}, "channel": "email:oncall@corp.example,ana@corp.example"}]}}
    if webhook_url:
        alerting["webhooks"] = {"ops": {"url": webhook_url}}
    if smtp_port:
        alerting["smtp"] = {"host": "127.0.0.1", "port": smtp_port, "sender": "spendwatch@corp.example"}
    return Settings({"alerting": alerting})


def test_webhook_and_email_routed_by_the_tree(receiver: Receiver, smtp: tuple[int, list[Any]]) -> None:
    port, mails = smtp
    env = alert_environment({"SPENDWATCH_WEBHOOK_SECRET_OPS": SECRET})
    p = build_alert_pipeline(routes(receiver.url, port), environment=env)
    p.handle(anomaly(waste=1.0))
    p.handle(anomaly(aid="idle_gpu-n", team="nlp"))  # not vision: the default (console) route
    p.flush(now=T0 + 700)
    (hook,) = receiver.requests
    headers, body = hook
    assert headers[SIGNATURE_HEADER] == signature(SECRET, headers[TIMESTAMP_HEADER], body)
    assert not hmac.compare_digest(headers[SIGNATURE_HEADER], signature("other", headers[TIMESTAMP_HEADER], body))
    doc = json.loads(body)
    assert doc["event"] == "post" and doc["receiver"] == "ops" and "idle_gpu-a" in json.dumps(doc["blocks"])
    assert doc["id"].startswith("wh-") and "$70.80" in json.dumps(doc["blocks"])
    (mail,) = mails
    assert sorted(mail.rcpt_tos) == ["ana@corp.example", "oncall@corp.example"]
    msg: Any = email.message_from_bytes(mail.content, policy=email.policy.default)
    assert msg["From"] == "spendwatch@corp.example" and "GPU idle on dgx-1" in msg["Subject"]
    body = msg.get_content()
    assert "Idle GPU: $70.80/day" in body and "ana@corp.example" in body  # the owner, plain (no Slack mention)
    root_id = msg["Message-ID"]
    p.handle(anomaly(ts=T0 + 4000, waste=9.0))  # material: edit + thread reply on both receivers
    p.flush(now=T0 + 4001)
    events = [json.loads(b)["event"] for _h, b in receiver.requests]
    assert events == ["post", "update", "reply"]
    assert json.loads(receiver.requests[2][1])["thread_id"] == doc["id"]
    follow: list[Any] = [email.message_from_bytes(m.content, policy=email.policy.default) for m in mails[1:]]
    assert [f["Subject"].strip().split(":")[0] for f in follow] == ["Updated", "Re"]
    assert all(f["In-Reply-To"] == root_id for f in follow)


def test_a_failed_webhook_is_kept_and_retried(receiver: Receiver) -> None:
    receiver.fail_next = [503]
    settings = Settings({"alerting": {"webhooks": {"ops": {"url": receiver.url}}, "retry_base_s": 5.0,
                                      "route": {"channel": "webhook:ops", "group_wait_s": 0}}})
    p = build_alert_pipeline(settings, environment=AlertEnvironment(
        webhook_secrets={"SPENDWATCH_WEBHOOK_SECRET_OPS": SECRET}))
    with pytest.raises(NotifyError, match="HTTP 503"):
        WebhookNotifier("x", receiver.url, SECRET).post("webhook:x", "hi")
    receiver.fail_next = [503]
    p.handle(anomaly())
    p.flush(now=T0 + 700)
    assert receiver.requests == [] and p.stats.failures == 1 and p.pending() == 1  # kept in the outbox
    p.flush(now=T0 + 700 + 3600)
    assert [json.loads(b)["event"] for _h, b in receiver.requests] == ["post"] and p.pending() == 0


def test_receivers_are_checked_at_start() -> None:
    with pytest.raises(ConfigError, match="no secret: set SPENDWATCH_WEBHOOK_SECRET_OPS"):
        build_alert_pipeline(routes("http://127.0.0.1:9/hook"), environment=AlertEnvironment())
    with pytest.raises(ConfigError, match="alerting.smtp is not configured"):
        build_alert_pipeline(routes("http://127.0.0.1:9/hook"), environment=AlertEnvironment(
            webhook_secrets={"SPENDWATCH_WEBHOOK_SECRET_OPS": SECRET}))
    assert "whsec" not in repr(WebhookNotifier("ops", "http://127.0.0.1:9/", SECRET))
