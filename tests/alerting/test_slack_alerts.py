"""Slack alerts against a local Web API server: payloads, threads, 429/5xx, restarts, storms."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from alerting.environment import AlertEnvironment, alert_environment
from alerting.notifiers.slack import SlackNotifier
from alerting.pipeline import AlertPipeline, build_alert_pipeline
from spendwatch.config import Settings
from spendwatch.history import schema
from tests.fake_slack import TOKEN, FakeSlack

T0 = 1_774_384_000.0


def anomaly(aid: str = "idle_gpu-a", state: str = "open", ts: float = T0 + 600, waste: float = 1.0,
            daily: float = 70.8, severity: str = "warning", owner: str | None = "ana@corp.example",
            team: str = "vision", resource: str | None = None, node: str = "dgx-1",
            kind: str = "idle_gpu") -> dict[str, Any]:
    return {"type": "anomaly", "id": aid, "kind": kind, "state": state, "severity": severity,
            "workload": {"id": f"{team}/train", "team": team, **({"owner": owner} if owner else {})},
            "resource": resource or f"GPU-{aid}", "started_at": T0, "detected_at": T0 + 600,
            "resolved_at": ts if state == "resolved" else None, "waste_usd": waste, "projected_daily_usd": daily,
            "summary": f"GPU idle on {node}: ${waste:.2f} lost", "ts": ts,
            "evidence": {"node": node, "mean_activity_pct": 0.0, "idle_hours": 1.5}}


def slack_pipeline(fake: FakeSlack, **alerting: Any) -> AlertPipeline:
    cfg = {"min_post_interval_s": 0.0, "slack_backoff_s": 0.05, "slack_max_retries": 2, **alerting}
    cfg.setdefault("route", {"channel": "#gpu-waste", "group_wait_s": 30})
    env = AlertEnvironment(slack_token=TOKEN, slack_base_url=fake.base_url)
    return build_alert_pipeline(Settings({"alerting": cfg}), environment=env)


def text_of(payload: dict[str, Any]) -> str:
    return json.dumps(payload.get("blocks") or [], ensure_ascii=False) + payload.get("text", "")


def test_one_message_per_anomaly_with_thread_updates_and_resolve(fake_slack: FakeSlack) -> None:
    p = slack_pipeline(fake_slack)
    assert isinstance(p.notifier, SlackNotifier)
    p.handle(anomaly(waste=1.0))
    p.flush(now=T0 + 600 + 10)
    assert fake_slack.calls == []  # still within group_wait_s
    p.flush(now=T0 + 600 + 31)
    (root,) = fake_slack.roots()
    payload = root["payload"]
    assert payload["channel"] == "#gpu-waste"
    assert payload["blocks"][0]["type"] == "header" and "Idle GPU" in payload["blocks"][0]["text"]["text"]
    fields = " ".join(f["text"] for f in payload["blocks"][2]["fields"])
    assert "<@U0ANA0001>" in fields  # looked up by e-mail
    assert "*Lost so far*\n$1.00" in fields and "*Per day*\n$70.80" in fields and "warning" in fields
    assert "<!date^1774384000^" in fields  # since when
    assert "idle_gpu-a" in json.dumps(payload["blocks"][3]) and "mean_activity_pct=0" in json.dumps(payload)

    p.handle(anomaly(ts=T0 + 900, waste=2.0))  # +$1: not material
    p.flush(now=T0 + 1000)
    assert len(fake_slack.calls) == 1
    p.handle(anomaly(ts=T0 + 4000, waste=9.0))  # +$8 and +800 %: material
    p.flush(now=T0 + 4001)
    (upd,) = fake_slack.of("chat.update")
    assert upd["payload"]["ts"] == root["ts"] and "$9.00" in text_of(upd["payload"])
    (reply,) = fake_slack.replies(root["ts"])
    assert "$1.00 → *$9.00*" in reply["payload"]["text"]

    p.handle(anomaly(state="resolved", ts=T0 + 5000, waste=9.5))
    p.flush(now=T0 + 5001)
    assert len(fake_slack.of("chat.update")) == 2
    final = fake_slack.messages[root["ts"]]
    assert "resolved" in final["blocks"][0]["text"]["text"] and "$9.50" in text_of(final)
    assert "resolved" in fake_slack.replies(root["ts"])[-1]["payload"]["text"]
    assert fake_slack.lookups == 1  # cached
    assert p.store is not None and p.store.get("idle_gpu-a") is None  # pipeline does not write history ...
    assert p.pending() == 0
    p.close()


def test_message_ts_is_stored_with_the_anomaly(fake_slack: FakeSlack) -> None:
    p = slack_pipeline(fake_slack)
    assert p.store is not None
    p.store.record(anomaly())  # ... the worker / alerter records it; the pipeline adds the message
    p.handle(anomaly())
    p.flush(now=T0 + 700)
    stored = p.store.get("idle_gpu-a")
    assert stored is not None and stored["slack_ts"] == fake_slack.roots()[0]["ts"]
    assert stored["slack_channel"] == "#gpu-waste"
    p.close()


def test_slack_user_id_owner_is_mentioned_without_lookup(fake_slack: FakeSlack) -> None:
    p = slack_pipeline(fake_slack)
    p.handle(anomaly(owner="U0XYZ1234"))
    p.handle(anomaly("idle_gpu-b", owner="nobody@corp.example", team="speech"))
    p.flush(now=T0 + 700)
    texts = [text_of(c["payload"]) for c in fake_slack.roots()]
    assert any("<@U0XYZ1234>" in t for t in texts)
    assert any("nobody@corp.example" in t for t in texts)  # not found: named by e-mail, not dropped
    assert fake_slack.lookups == 1
    p.close()


def test_429_and_5xx_lose_nothing_and_duplicate_nothing(fake_slack: FakeSlack) -> None:
    p = slack_pipeline(fake_slack, retry_base_s=5.0)
    # slack-sdk's handlers absorb one 429 (waits Retry-After) and a 503 ...
    fake_slack.faults["chat.postMessage"] = [429, 503]
    for i in range(2):
        p.handle(anomaly(f"idle_gpu-{i}", team=f"t{i}"))
    p.flush(now=T0 + 700)
    assert len(fake_slack.roots()) == 2 and p.pending() == 0
    # ... and what outlasts them stays in the outbox and goes out on a later flush.
    fake_slack.faults["chat.postMessage"] = [500, 500, 500]  # more than the 2 retries of slack-sdk
    fake_slack.faults["chat.update"] = [502, 502, 502]
    p.handle(anomaly("idle_gpu-2", team="t2"))
    p.handle(anomaly("idle_gpu-0", team="t0", state="resolved", ts=T0 + 800, waste=2.0))
    p.flush(now=T0 + 900)
    assert p.pending() >= 2 and p.stats.failures >= 1
    p.flush(now=T0 + 901)  # backing off: nothing retried yet
    assert p.pending() >= 2
    for k in range(1, 4):  # 502 is not retried inside slack-sdk: each later flush uses up one
        p.flush(now=T0 + 900 + 400 * k)
    assert p.pending() == 0
    roots = fake_slack.roots()
    ids = [r["payload"]["blocks"][3]["elements"][0]["text"] for r in roots]
    assert sorted(ids) == ["`idle_gpu-0`", "`idle_gpu-1`", "`idle_gpu-2`"]  # each exactly once
    first = next(r for r in roots if "idle_gpu-0" in json.dumps(r["payload"]))
    assert "resolved" in fake_slack.messages[first["ts"]]["blocks"][0]["text"]["text"]
    assert len(fake_slack.replies(first["ts"])) == 1
    assert ("chat.postMessage", 429) in fake_slack.rejected and ("chat.update", 502) in fake_slack.rejected
    p.close()


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_restart_never_posts_twice_and_never_forgets_to_resolve(fake_slack: FakeSlack, tmp_path: Path, db: str,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 request: pytest.FixtureRequest) -> None:
    if db == "postgres":  # the notification log in PostgreSQL, as in production
        monkeypatch.setenv("SPENDWATCH_DB", request.getfixturevalue("pg_schema_url"))
    events = [anomaly(), anomaly(ts=T0 + 4000, waste=9.0)]
    p1 = slack_pipeline(fake_slack)
    for e in events:
        p1.handle(e)
    p1.flush(now=T0 + 4100)
    assert len(fake_slack.roots()) == 1
    # The resolve is decided, but Slack is down when it is due; then the process dies.
    p1.handle(anomaly(state="resolved", ts=T0 + 5000, waste=9.5))
    fake_slack.faults["chat.update"] = [500] * 3
    p1.flush(now=T0 + 5001)
    assert p1.pending() == 2
    p1.close()
    del p1

    p2 = slack_pipeline(fake_slack)  # same database: the notification log survives
    for e in events:  # Kafka redelivers what came before the last commit
        p2.handle(e)
    p2.flush(now=T0 + 5000 + 400)
    assert len(fake_slack.roots()) == 1  # never posted twice
    root_ts = fake_slack.roots()[0]["ts"]
    assert "resolved" in fake_slack.messages[root_ts]["blocks"][0]["text"]["text"]  # never forgot
    assert "resolved" in fake_slack.replies(root_ts)[-1]["payload"]["text"]
    assert p2.pending() == 0
    p2.handle(anomaly(state="resolved", ts=T0 + 5000, waste=9.5))  # and the resolve again: nothing
    p2.flush(now=T0 + 9000)
    # root (already showing $9: the update came before it was due), the resolve's edit and reply
    assert [c["method"] for c in fake_slack.calls] == ["chat.postMessage", "chat.update", "chat.postMessage"]
    p2.close()


def test_a_storm_is_one_message_with_a_list(fake_slack: FakeSlack) -> None:
    p = slack_pipeline(fake_slack)
    for i in range(40):  # 40 idle GPUs on one node of one team, detected within seconds
        p.handle(anomaly(f"idle_gpu-{i:02d}", ts=T0 + 600 + i * 0.5, resource=f"GPU-{i:02d}", owner="bo@corp.example"))
    p.flush(now=T0 + 700)
    (root,) = fake_slack.roots()
    body = text_of(root["payload"])
    assert "40 × Idle GPU" in body and "GPU-00" in body and "…and 15 more" in body
    assert "<@U0BO00002>" in body
    assert "$2,832" in body  # 40 × $70.80 a day
    for i in range(40):  # all resolve: one edit and one reply, not 40 pings
        p.handle(anomaly(f"idle_gpu-{i:02d}", "resolved", ts=T0 + 3000, waste=5.0, resource=f"GPU-{i:02d}",
                         owner="bo@corp.example"))
    p.flush(now=T0 + 3001)
    assert len(fake_slack.of("chat.update")) == 1 and len(fake_slack.replies(root["ts"])) == 1
    reply = fake_slack.replies(root["ts"])[0]["payload"]["text"]
    shown = reply.count(": resolved")
    assert 5 < shown < 40 and f"…and {40 - shown} more changes" in reply  # whole lines, within Slack's limit
    assert "0 open*, 40 resolved" in text_of(fake_slack.messages[root["ts"]])
    p.close()


def test_two_at_once_are_two_messages_not_a_list(fake_slack: FakeSlack) -> None:
    p = slack_pipeline(fake_slack)
    p.handle(anomaly("idle_gpu-a"))
    p.handle(anomaly("idle_gpu-b", ts=T0 + 601))
    p.flush(now=T0 + 700)
    assert len(fake_slack.roots()) == 2
    p.close()


def test_at_most_one_post_per_second_per_channel(fake_slack: FakeSlack) -> None:
    p = slack_pipeline(fake_slack, min_post_interval_s=1.0,
                       route={"channel": "#a", "routes": [{"match": {"team": "other"}, "channel": "#b"}]})
    p.handle(anomaly("x1", team="t1"))
    p.handle(anomaly("x2", team="t2"))
    p.handle(anomaly("y1", team="other"))
    p.flush(now=T0 + 700)
    at = {c["payload"]["channel"]: [] for c in fake_slack.calls}  # type: dict[str, list[float]]
    for c in fake_slack.calls:
        at[c["payload"]["channel"]].append(c["at"])
    assert len(at["#a"]) == 2 and len(at["#b"]) == 1
    assert at["#a"][1] - at["#a"][0] >= 0.95
    p.close()


def test_the_token_is_never_logged(fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    p = slack_pipeline(fake_slack)
    fake_slack.faults["chat.postMessage"] = [500] * 3
    p.handle(anomaly())
    p.flush(now=T0 + 700)
    assert p.stats.failures == 1
    out = capsys.readouterr()
    assert TOKEN not in caplog.text + out.out + out.err + repr(p.notifier) + repr(p.stats)
    p.close()


def test_token_from_a_file(fake_slack: FakeSlack, tmp_path: Path) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n")
    env = alert_environment({"SPENDWATCH_SLACK_TOKEN_FILE": str(tmp_path / "token"),
                             "SPENDWATCH_SLACK_BASE_URL": fake_slack.base_url})
    p = build_alert_pipeline(Settings({"alerting": {"min_post_interval_s": 0.0}}), environment=env)
    p.handle(anomaly())
    p.flush(now=T0 + 700)
    assert len(fake_slack.roots()) == 1
    p.close()


def test_the_pipeline_never_reads_the_environment(fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # a token in the environment reaches Slack only through the command line's AlertEnvironment
    monkeypatch.setenv("SPENDWATCH_SLACK_TOKEN", TOKEN)
    monkeypatch.setenv("SPENDWATCH_SLACK_BASE_URL", fake_slack.base_url)
    p = build_alert_pipeline(Settings({"alerting": {"route": {"channel": "#gpu-waste", "group_wait_s": 30}}}))
    p.handle(anomaly())
    p.flush(now=T0 + 700)
    assert fake_slack.calls == [] and "ALERT" in capsys.readouterr().out  # the console, not Slack
    p.close()
    p = build_alert_pipeline(Settings({"alerting": {"min_post_interval_s": 0.0}}),
                             environment=alert_environment(os.environ))
    p.handle(anomaly())
    p.flush(now=T0 + 700)
    assert len(fake_slack.roots()) == 1
    p.close()


def test_flush_without_a_time_uses_the_injected_clock(fake_slack: FakeSlack) -> None:
    clock = [T0 + 600.0]
    env = AlertEnvironment(slack_token=TOKEN, slack_base_url=fake_slack.base_url)
    p = build_alert_pipeline(Settings({"alerting": {"min_post_interval_s": 0.0, "route": {
        "channel": "#gpu-waste", "group_wait_s": 30}}}), environment=env, now=lambda: clock[0])
    p.handle(anomaly())
    p.flush()
    assert fake_slack.calls == []  # at T0 + 600 the group is still collecting
    clock[0] = T0 + 631
    p.flush()
    assert len(fake_slack.roots()) == 1
    with p.nflog.engine.connect() as conn:  # the notification log stamps its rows with the same clock
        stamps = {r.updated_at for r in conn.execute(sa.select(schema.alert_messages.c.updated_at))}
    assert stamps == {T0 + 631}
    p.close()
