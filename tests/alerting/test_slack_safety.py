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
