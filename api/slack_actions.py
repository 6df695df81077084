"""Slack's interactivity request URL: the alert buttons, at ``POST /slack/actions``.

1. Verify: :class:`slack_sdk.signature.SignatureVerifier` with the app's signing secret checks
   ``X-Slack-Signature`` over the raw body and rejects a ``X-Slack-Request-Timestamp`` more than
   5 minutes off: both answer 401. A request seen before (same timestamp and signature) is
   answered 200 and not applied again.
2. Apply (in the request, a few database writes): ``sw_ack`` → acknowledged, ``sw_snooze_4h`` /
   ``sw_snooze_24h`` → snoozed until then, ``sw_not_a_problem`` → a modal asking for an optional
   reason (``views.open``; its submission records the verdict), or the verdict at once when no bot
   token is configured. Each verdict is kept in the history and published as a ``feedback`` event
   (:meth:`api.app.ApiContext.record_feedback`). The button's value is the anomaly id, or ``*``
   for every member of a group message.
3. Answer 200 at once (Slack wants an answer within 3 s); *after* answering, the message is
   re-rendered from the notification log with what people said and edited through the Web API
   (``chat.update``).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson
import sqlalchemy as sa
from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from slack_sdk.signature import Clock, SignatureVerifier

from alerting.render import ACTION_IDS, SNOOZE_S, render_root
from spendwatch.history import schema

if TYPE_CHECKING:
    from alerting.notifiers.slack import SlackNotifier
    from api.app import ApiContext

log = logging.getLogger("spendwatch.api.slack")
MODAL_CALLBACK = "sw_not_a_problem_modal"


class _Seen:
    """Requests already applied (timestamp + signature), for the 5 minutes Slack's signature is valid."""

    def __init__(self, ttl_s: float = 300.0) -> None:
        self.ttl_s = ttl_s
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, key: str, now: float) -> bool:
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now - self.ttl_s:
                self._seen.popitem(last=False)
            if key in self._seen:
                return False
            self._seen[key] = now
            return True


def _user(payload: dict[str, Any]) -> str:
    u = payload.get("user") or {}
    return str(u.get("id") or u.get("username") or u.get("name") or "unknown")[:512]


def _members(ctx: ApiContext, channel: str | None, message_ts: str | None) -> tuple[str | None, list[dict[str, Any]]]:
    """The notification-log message posted as ``message_ts`` and its members' latest snapshots."""
    if not message_ts:
        return None, []
    m, mb = schema.alert_messages, schema.alert_members
    with ctx.store.engine.connect() as conn:
        rows = conn.execute(sa.select(m.c.key, m.c.channel).where(m.c.slack_ts == message_ts)).all()
        if not rows:
            return None, []
        key = next((r.key for r in rows if r.channel == channel), rows[0].key)
        snaps = conn.execute(sa.select(mb.c.snapshot).where(mb.c.message_key == key).order_by(mb.c.seq)).scalars()
        return key, [orjson.loads(s) for s in snaps]


def add_slack_routes(app: FastAPI, ctx: ApiContext) -> None:
    secret = ctx.options.slack_signing_secret
    assert secret, "the Slack routes need a signing secret"
    verifier = SignatureVerifier(secret, clock=_Clock(ctx))
    seen = _Seen()
    notifier: SlackNotifier | None = None
    if ctx.options.slack_token:
        from alerting.notifiers.slack import SlackNotifier

        notifier = SlackNotifier(ctx.options.slack_token, base_url=ctx.options.slack_base_url or
                                 "https://slack.com/api/", min_interval_s=0.0, max_retries=2)

    def targets(payload: dict[str, Any], value: str) -> tuple[str | None, str | None, list[dict[str, Any]]]:
        container = payload.get("container") or {}
        channel = container.get("channel_id") or (payload.get("channel") or {}).get("id")
        message_ts = container.get("message_ts") or (payload.get("message") or {}).get("ts")
        _key, members = _members(ctx, channel, message_ts)
        if value and value != "*":
            members = [m for m in members if m["id"] == value] or \
                ([a] if (a := ctx.store.get(value)) is not None and a["id"] == value else [])
        return channel, message_ts, members

    def apply(members: list[dict[str, Any]], verdict: str, by: str, reason: str | None, until: float | None) -> None:
        for m in members:
            latest = ctx.store.get(m["id"]) or m
            ctx.record_feedback(latest, verdict, by, reason, until, "slack")

    def refresh(channel: str | None, message_ts: str | None) -> None:
        """Edit the message to show what people said (runs after the answer was sent)."""
        if notifier is None or not channel or not message_ts:
            return
        _key, members = _members(ctx, channel, message_ts)
        if not members:
            return
        status = ctx.store.feedback.status(m["id"] for m in members)
        text, blocks = render_root(members, notifier.mention, status, ctx.now())
        try:
            notifier.update(channel, message_ts, text, blocks)
            ctx.metrics.slack_actions.labels("update", "ok").inc()
        except Exception as exc:  # noqa: BLE001 - the verdict is recorded; the next alert edit shows it
            ctx.metrics.slack_actions.labels("update", "failed").inc()
            log.warning("Slack message %s not updated after an action: %s", message_ts, exc)

    def open_modal(trigger_id: str, channel: str | None, message_ts: str | None, value: str) -> None:
        assert notifier is not None
        view = {"type": "modal", "callback_id": MODAL_CALLBACK,
                "private_metadata": orjson.dumps({"channel": channel, "ts": message_ts, "value": value}).decode(),
                "title": {"type": "plain_text", "text": "Not a problem"},
                "submit": {"type": "plain_text", "text": "Mark not a problem"},
                "close": {"type": "plain_text", "text": "Cancel"},
                "blocks": [{"type": "input", "block_id": "reason", "optional": True,
                            "label": {"type": "plain_text", "text": "Why is this fine? (optional)"},
                            "element": {"type": "plain_text_input", "action_id": "reason", "multiline": True,
                                        "max_length": 2000}}]}
        try:
            notifier.client.views_open(trigger_id=trigger_id, view=view)
            ctx.metrics.slack_actions.labels("modal", "ok").inc()
        except Exception as exc:  # noqa: BLE001 - nothing recorded yet; the user can click again
            ctx.metrics.slack_actions.labels("modal", "failed").inc()
            log.warning("Slack views.open failed: %s", exc)

    @app.post("/slack/actions", include_in_schema=False)
    async def slack_actions(request: Request, background: BackgroundTasks) -> Response:
        body = await request.body()
        headers = {k: v for k, v in request.headers.items()}
        try:
            valid = verifier.is_valid_request(body, headers)
        except ValueError:  # a timestamp that is not an integer
            valid = False
        if not valid:
            ctx.metrics.slack_actions.labels("-", "bad_signature").inc()
            return JSONResponse({"detail": "invalid Slack signature or timestamp"}, status_code=401)
        key = f"{headers.get('x-slack-request-timestamp')}:{headers.get('x-slack-signature')}"
        if not seen.first_time(key, ctx.now()):
            ctx.metrics.slack_actions.labels("-", "repeat").inc()
            return Response(status_code=200)
        try:
            payload = orjson.loads(parse_qs(body.decode())["payload"][0])
            assert isinstance(payload, dict)
        except (KeyError, IndexError, UnicodeDecodeError, orjson.JSONDecodeError, AssertionError):
            ctx.metrics.slack_actions.labels("-", "bad_payload").inc()
            return JSONResponse({"detail": "expected a form field 'payload' with Slack's JSON"}, status_code=400)
        by = _user(payload)
        if payload.get("type") == "view_submission" and (payload.get("view") or {}).get("callback_id") == \
                MODAL_CALLBACK:
            view = payload["view"]
            meta = orjson.loads(view.get("private_metadata") or "{}")
            reason = (((view.get("state") or {}).get("values") or {}).get("reason") or {}).get("reason", {}).get(
                "value")
            fake = {"container": {"channel_id": meta.get("channel"), "message_ts": meta.get("ts")}}
            channel, message_ts, members = targets(fake, str(meta.get("value") or "*"))
            apply(members, "not_a_problem", by, (reason or None) and str(reason)[:4096], None)
            ctx.metrics.slack_actions.labels("not_a_problem", "ok").inc()
            background.add_task(refresh, channel, message_ts)
            return Response(status_code=200)  # an empty 200 closes the modal
        if payload.get("type") != "block_actions":
            ctx.metrics.slack_actions.labels("-", "ignored").inc()
            return Response(status_code=200)
        for action in payload.get("actions") or []:
            action_id = str(action.get("action_id") or "")
            verdict = ACTION_IDS.get(action_id)
            if verdict is None:
                continue
            channel, message_ts, members = targets(payload, str(action.get("value") or "*"))
            if not members:
                ctx.metrics.slack_actions.labels(action_id, "unknown_anomaly").inc()
                continue
            if verdict == "not_a_problem" and notifier is not None and payload.get("trigger_id"):
                background.add_task(open_modal, str(payload["trigger_id"]), channel, message_ts,
                                    str(action.get("value") or "*"))
                continue
            until = ctx.now() + SNOOZE_S[action_id] if verdict == "snoozed" else None
            apply(members, verdict, by, None, until)
            ctx.metrics.slack_actions.labels(action_id, "ok").inc()
            background.add_task(refresh, channel, message_ts)
        return Response(status_code=200)


class _Clock(Clock):
    """The verifier's clock is the app's (tests pin it)."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    def now(self) -> float:
        return float(self.ctx.now())
