"""Slack buttons through the request URL against the local Slack Web API stand-in: signatures (good,
bad, stale, replayed), the message edited, the history recorded, snooze muting updates but not the
resolution, and 'Not a problem' with a reason from a modal."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier

from alerting.pipeline import AlertPipeline
from api.app import ApiOptions, create_app
from spendwatch.history import open_store
from tests.alerting.test_slack_alerts import T0, anomaly, slack_pipeline
from tests.fake_slack import TOKEN, FakeSlack

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def posted(fake: FakeSlack) -> tuple[AlertPipeline, dict[str, Any]]:
    p = slack_pipeline(fake)
    p.handle(anomaly(waste=1.0))
    p.flush(now=T0 + 700)
    (root,) = fake.roots()
    return p, root


def client(fake: FakeSlack, published: list[dict[str, Any]] | None = None) -> TestClient:
    sink = published if published is not None else []

    def publish(event: dict[str, Any]) -> bool:
        sink.append(event)
        return True

    opts = ApiOptions(slack_signing_secret=SECRET, slack_token=TOKEN, slack_base_url=fake.base_url,
                      publish=publish)
    return TestClient(create_app(open_store(), opts))


def signed(payload: dict[str, Any], ts: int | None = None, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(time.time()) if ts is None else ts)
    sig = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert sig is not None
    return body, {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sig,
                  "Content-Type": "application/x-www-form-urlencoded"}


def click(root: dict[str, Any], action_id: str, user: str = "U0BO00002", value: str | None = None) -> dict[str, Any]:
    return {"type": "block_actions", "user": {"id": user, "username": "bo"}, "trigger_id": "1337.42.abcd",
            "container": {"type": "message", "channel_id": root["payload"]["channel"], "message_ts": root["ts"]},
            "actions": [{"action_id": action_id, "block_id": "sw_actions", "value": value or "idle_gpu-a"}]}


def test_every_open_alert_carries_the_buttons(fake_slack: FakeSlack) -> None:
    _p, root = posted(fake_slack)
    (actions,) = [b for b in root["payload"]["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == ["sw_ack", "sw_snooze_4h", "sw_snooze_24h",
                                                             "sw_not_a_problem"]
    assert {e["value"] for e in actions["elements"]} == {"idle_gpu-a"}


def test_acknowledge_edits_the_message_and_records_who_and_when(fake_slack: FakeSlack) -> None:
    _p, root = posted(fake_slack)
    published: list[dict[str, Any]] = []
    c = client(fake_slack, published)
    before = time.time()
    body, headers = signed(click(root, "sw_ack"))
    r = c.post("/slack/actions", content=body, headers=headers)
    assert r.status_code == 200
    (upd,) = fake_slack.of("chat.update")
    assert upd["payload"]["ts"] == root["ts"]
    text = json.dumps(upd["payload"]["blocks"])
    assert "Acknowledged by <@U0BO00002>" in text and "<!date^" in text
    with open_store() as store:
        (act,) = store.feedback.list("idle_gpu-a")
    assert act["verdict"] == "acknowledged" and act["by"] == "U0BO00002" and act["source"] == "slack"
    assert before - 1 <= act["ts"] <= time.time() + 1
    assert published[0]["verdict"] == "acknowledged" and published[0]["key"] == "dgx-1/GPU-idle_gpu-a"


def test_bad_signatures_stale_timestamps_and_replays(fake_slack: FakeSlack) -> None:
    _p, root = posted(fake_slack)
    c = client(fake_slack)
    body, headers = signed(click(root, "sw_ack"), secret="not-the-secret")
    assert c.post("/slack/actions", content=body, headers=headers).status_code == 401
    body, headers = signed(click(root, "sw_ack"), ts=int(time.time()) - 6 * 60)  # signed right, 6 min old
    assert c.post("/slack/actions", content=body, headers=headers).status_code == 401
    body, headers = signed(click(root, "sw_ack"))
    tampered = body.replace(b"U0BO00002", b"U0EVE0666")
    assert c.post("/slack/actions", content=tampered, headers=headers).status_code == 401
    assert c.post("/slack/actions", content=body, headers={**headers, "X-Slack-Request-Timestamp": "soon"}
                  ).status_code == 401
    assert c.post("/slack/actions", content=body).status_code == 401  # unsigned
    with open_store() as store:
        assert store.feedback.list("idle_gpu-a") == []
    assert fake_slack.of("chat.update") == []
    assert c.post("/slack/actions", content=body, headers=headers).status_code == 200
    assert c.post("/slack/actions", content=body, headers=headers).status_code == 200  # a replay: applied once
    with open_store() as store:
        assert len(store.feedback.list("idle_gpu-a")) == 1
    assert len(fake_slack.of("chat.update")) == 1
    assert 'result="bad_signature"} 5.0' in c.get("/metrics").text


def test_snooze_mutes_updates_but_not_the_resolution(fake_slack: FakeSlack) -> None:
    p, root = posted(fake_slack)
    c = client(fake_slack)
    body, headers = signed(click(root, "sw_snooze_4h"))
    assert c.post("/slack/actions", content=body, headers=headers).status_code == 200
    with open_store() as store:
        (act,) = store.feedback.list("idle_gpu-a")
    assert act["verdict"] == "snoozed" and act["until"] == pytest.approx(time.time() + 4 * 3600, abs=5)
    assert "Snoozed by <@U0BO00002>" in json.dumps(fake_slack.messages[root["ts"]]["blocks"])
    edits = len(fake_slack.of("chat.update"))
    p.handle(anomaly(ts=T0 + 4000, waste=90.0))  # material: would edit and reply
    p.flush(now=T0 + 4001)
    assert len(fake_slack.of("chat.update")) == edits and fake_slack.replies(root["ts"]) == []
    assert p.dedup.muted == 1
    p.handle(anomaly(state="resolved", ts=T0 + 5000, waste=95.0))
    p.flush(now=T0 + 5001)
    assert "resolved" in fake_slack.replies(root["ts"])[-1]["payload"]["text"]
    assert "resolved" in fake_slack.messages[root["ts"]]["blocks"][0]["text"]["text"]


def test_not_a_problem_asks_for_a_reason_then_records_it(fake_slack: FakeSlack) -> None:
    _p, root = posted(fake_slack)
    published: list[dict[str, Any]] = []
    c = client(fake_slack, published)
    body, headers = signed(click(root, "sw_not_a_problem"))
    assert c.post("/slack/actions", content=body, headers=headers).status_code == 200
    (modal,) = fake_slack.of("views.open")
    view = modal["payload"]["view"]
    assert modal["payload"]["trigger_id"] == "1337.42.abcd" and view["callback_id"] == "sw_not_a_problem_modal"
    with open_store() as store:
        assert store.feedback.list("idle_gpu-a") == []  # nothing yet: the modal is open
    submit = {"type": "view_submission", "user": {"id": "U0BO00002"},
              "view": {**view, "state": {"values": {"reason": {"reason": {"type": "plain_text_input",
                                                                          "value": "nightly batch gap"}}}}}}
    body, headers = signed(submit)
    r = c.post("/slack/actions", content=body, headers=headers)
    assert r.status_code == 200 and r.content == b""  # closes the modal
    with open_store() as store:
        (act,) = store.feedback.list("idle_gpu-a")
    assert act["verdict"] == "not_a_problem" and act["reason"] == "nightly batch gap"
    final = fake_slack.messages[root["ts"]]
    text = json.dumps(final["blocks"])
    assert "Marked not a problem by <@U0BO00002>: nightly batch gap" in text
    assert not [b for b in final["blocks"] if b["type"] == "actions"]  # no more buttons
    assert published[-1]["verdict"] == "not_a_problem" and published[-1]["reason"] == "nightly batch gap"


def test_a_silenced_anomaly_is_recorded_but_not_posted(fake_slack: FakeSlack) -> None:
    from spendwatch.history.silences import parse_matcher

    p = slack_pipeline(fake_slack)
    store = p.store
    assert store is not None
    store.silences.add([parse_matcher("team=vision"), parse_matcher("kind=idle_*")], ends_at=time.time() + 3600,
                       created_by="ana")
    a = anomaly(aid="idle_gpu-s")
    store.record_many([a])
    p.handle(a)
    p.handle(anomaly(aid="idle_gpu-t", team="nlp"))
    p.flush(now=T0 + 700)
    assert [r["payload"]["text"] for r in fake_slack.roots()] and len(fake_slack.roots()) == 1
    assert "nlp" in json.dumps(fake_slack.roots()[0]["payload"]["blocks"])
    assert p.stats.silenced == 1 and store.get("idle_gpu-s") is not None
