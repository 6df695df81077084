"""Slack payloads from hostile events, and a post Slack accepted whose answer never came back."""

from __future__ import annotations

import json
import re
from typing import Any

from alerting.render import unescape
from tests.alerting.test_slack_alerts import T0, anomaly, slack_pipeline
from tests.fake_slack import FakeSlack

HOSTILE = "<!channel> <!here> @channel <https://evil.example|click> & <@U0EVIL999> &amp;"


def hostile(aid: str, ts: float = T0 + 600, waste: float = 1.0, state: str = "open",
            resource: str | None = None) -> dict[str, Any]:
    a = anomaly(aid, ts=ts, waste=waste, state=state, owner=f"{HOSTILE} x", team=f"team {HOSTILE}")
    a["workload"]["id"] = f"wl {HOSTILE}"
    a["resource"] = resource or f"res {HOSTILE}"
    a["summary"] = f"summary {HOSTILE}"
    a["evidence"] = {"node": f"node {HOSTILE}", "note": f"note {HOSTILE}", "idle_hours": 1.5,
                     "contributors": [{"name": f"c {HOSTILE}", "share": 1.0}]}
    return a


def shown_texts(payload: dict[str, Any]) -> list[str]:
    """Every string Slack renders from a chat payload: the fallback text and each block text."""
    out = [str(payload.get("text", ""))]

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and key == "text":
            out.append(node)

    walk(payload.get("blocks") or [])
    return out


_ALLOWED_TOKEN = re.compile(r"<!date\^\d+\^[^|>]*\|[^<>]*>|<@U0ANA0001>")


def assert_plain(payload: dict[str, Any]) -> str:
    """No control sequence an event could have injected; returns what a reader sees."""
    for text in shown_texts(payload):
        rest = _ALLOWED_TOKEN.sub("", text)  # our own date tokens (and the one owner we resolved)
        assert "<" not in rest and ">" not in rest, text
        assert not re.search(r"&(?!amp;|lt;|gt;)", rest), text  # no bare &
        assert "U0EVIL999>" not in text.replace("&lt;@U0EVIL999&gt;", "")
    assert payload.get("link_names") is False and payload.get("parse") == "none"  # "@channel" stays text
    return "\n".join(unescape(t) for t in shown_texts(payload))


def test_hostile_strings_reach_slack_as_plain_text(fake_slack: FakeSlack) -> None:
    p = slack_pipeline(fake_slack)
    p.handle(hostile("idle_gpu-h"))
    for i in range(3):  # a storm: the group layout too
        p.handle(hostile(f"idle_gpu-s{i}", ts=T0 + 2000 + i, resource=f"GPU-{i} {HOSTILE}") |
                 {"workload": {"id": f"wl {HOSTILE}", "team": "storm", "owner": f"{HOSTILE} y"}})
    p.flush(now=T0 + 2100)
    roots = fake_slack.roots()
    assert len(roots) == 2
    single = next(r for r in roots if "idle_gpu-h" in json.dumps(r["payload"]))
    seen = assert_plain(single["payload"])
    for what in ("team ", "wl ", "res ", "summary ", "node ", "note ", ""):  # the visible text says what it said
        assert f"{what}{HOSTILE}" in seen, what
    assert f"{HOSTILE} x" in seen  # the owner, named (not a resolved user: no mention)
    assert "c <!channel>" not in seen  # contributors are not listed in the message at all
    group = next(r for r in roots if r is not single)
    seen = assert_plain(group["payload"])
    assert f"GPU-0 {HOSTILE}" in seen and f"{HOSTILE} y" in seen and f"wl {HOSTILE}" in seen

    p.handle(hostile("idle_gpu-h", ts=T0 + 5000, waste=50.0) | {"severity": "critical"})  # material: edit + reply
    p.handle(hostile("idle_gpu-s0", ts=T0 + 5000, state="resolved", resource=f"GPU-0 {HOSTILE}") |
             {"workload": {"id": f"wl {HOSTILE}", "team": "storm", "owner": f"{HOSTILE} y"}})
    p.flush(now=T0 + 5100)
    later = fake_slack.of("chat.update") + fake_slack.replies()
    assert len(fake_slack.of("chat.update")) == 2 and len(fake_slack.replies()) == 2
    for call in later:
        assert_plain(call["payload"])
    assert any(f"GPU-0 {HOSTILE}" in unescape(c["payload"]["text"]) for c in fake_slack.replies())
    p.close()


def test_a_resolved_owner_is_still_mentioned(fake_slack: FakeSlack) -> None:
    p = slack_pipeline(fake_slack)
    p.handle(hostile("idle_gpu-h") | {"workload": {"id": "x", "team": "t", "owner": "ana@corp.example"}})
    p.flush(now=T0 + 700)
    (root,) = fake_slack.roots()
    assert "<@U0ANA0001>" in json.dumps(root["payload"]) and "(owner: <@U0ANA0001>)" in root["payload"]["text"]
    assert_plain(root["payload"])
    p.close()


def one_root_for(fake: FakeSlack, aid: str) -> dict[str, Any]:
    roots = [r for r in fake.roots() if f"`{aid}`" in json.dumps(r["payload"])]
    assert len(roots) == 1, [r["ts"] for r in roots]
    return roots[0]


def test_a_post_accepted_but_timed_out_is_not_posted_again(fake_slack: FakeSlack) -> None:
    p = slack_pipeline(fake_slack, slack_timeout_s=1)
    fake_slack.delays["chat.postMessage"] = [2.5]  # Slack posts it, then answers after the client gave up
    p.handle(anomaly("idle_gpu-t"))
    p.flush(now=T0 + 700)
    root = one_root_for(fake_slack, "idle_gpu-t")
    meta = root["payload"]["metadata"]
    assert meta["event_type"] == "spendwatch_alert" and meta["event_payload"]["message_key"]
    history = [q for m, q in fake_slack.reads if m == "conversations.history"]
    assert history and str(history[0]["include_all_metadata"]).lower() in ("1", "true")
    assert p.pending() == 0 and p.stats.posted == 1
    p.flush(now=T0 + 1100)  # nothing left to retry
    one_root_for(fake_slack, "idle_gpu-t")

    p.handle(anomaly("idle_gpu-t", ts=T0 + 4000, waste=9.0))  # a material change: edit and thread reply
    p.flush(now=T0 + 4001)
    (upd,) = fake_slack.of("chat.update")
    assert upd["payload"]["ts"] == root["ts"] and "$9.00" in json.dumps(upd["payload"])
    assert [r["payload"]["thread_ts"] for r in fake_slack.replies()] == [root["ts"]]
    p.close()


def test_a_lost_answer_is_looked_up_on_the_outbox_retry_too(fake_slack: FakeSlack) -> None:
    p = slack_pipeline(fake_slack, slack_timeout_s=1, retry_base_s=5.0)
    fake_slack.delays["chat.postMessage"] = [2.5]
    fake_slack.faults["conversations.history"] = [500] * 3  # and Slack cannot tell us right then
    p.handle(anomaly("idle_gpu-u"))
    p.flush(now=T0 + 700)
    one_root_for(fake_slack, "idle_gpu-u")
    assert p.pending() == 1 and p.stats.failures == 1  # kept: we do not know it was posted
    p.flush(now=T0 + 800)  # the retry looks first (since the first attempt, kept in the outbox) ...
    root = one_root_for(fake_slack, "idle_gpu-u")  # ... and finds it: still one message
    assert p.pending() == 0
    p.handle(anomaly("idle_gpu-u", state="resolved", ts=T0 + 5000, waste=9.5))
    p.flush(now=T0 + 5001)
    assert [c["payload"]["ts"] for c in fake_slack.of("chat.update")] == [root["ts"]]
    assert [r["payload"]["thread_ts"] for r in fake_slack.replies()] == [root["ts"]]
    assert "resolved" in fake_slack.messages[root["ts"]]["blocks"][0]["text"]["text"]
    p.close()


def test_a_post_slack_refused_is_retried_without_a_lookup(fake_slack: FakeSlack) -> None:
    p = slack_pipeline(fake_slack)
    fake_slack.faults["chat.postMessage"] = [429]  # Slack said no: nothing to look for
    p.handle(anomaly("idle_gpu-v"))
    p.flush(now=T0 + 700)
    one_root_for(fake_slack, "idle_gpu-v")
    assert fake_slack.reads == [] and ("chat.postMessage", 429) in fake_slack.rejected
    p.close()
