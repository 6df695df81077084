"""The JSON API over demo-style history, on SQLite and PostgreSQL: filters as `spendwatch anomalies`,
times in and out, paging, detail, summaries, series, silences, feedback, tokens."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from api.queries import iso
from spendwatch.contract import detector_key
from spendwatch.events import validate
from spendwatch.history import AnomalyQuery, HistoryStore
from tests.api.conftest import END, NOW, START, TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_list_uses_the_same_filters_as_the_anomalies_command(make_client: Callable[..., Any],
                                                               demo_store: HistoryStore) -> None:
    c = make_client()
    everything = c.get("/api/v1/anomalies", params={"from": START, "to": END, "limit": 1000}).json()
    assert everything["total"] == demo_store.count(AnomalyQuery(from_ts=START, to_ts=END)) >= 10
    kinds = {a["kind"] for a in everything["items"]}
    assert {"idle_gpu", "cost_spike", "retrain_loop", "retrain_needed"} <= kinds
    for params, q in [
        ({"kind": "idle_gpu,gpu_memory_hoarding"}, AnomalyQuery(kinds=("idle_gpu", "gpu_memory_hoarding"))),
        ({"state": "open", "sort": "daily"}, AnomalyQuery(states=("open",), sort="daily")),
        ({"workload": "nlp/*"}, AnomalyQuery(workloads=("nlp/*",))),
        ({"severity": "warning", "min_waste": 5}, AnomalyQuery(min_severity="warning", min_waste_usd=5.0)),
    ]:
        got = c.get("/api/v1/anomalies", params={**params, "limit": 1000}).json()
        want = demo_store.query(q)
        assert [a["id"] for a in got["items"]] == [a["id"] for a in want], params
        assert got["total"] == len(want)
    idle = c.get("/api/v1/anomalies", params=[("kind", "idle_gpu"), ("kind", "cost_spike")]).json()["items"]
    assert idle and {a["kind"] for a in idle} <= {"idle_gpu", "cost_spike"}


def test_times_in_as_epoch_or_iso_and_out_as_both(make_client: Callable[..., Any]) -> None:
    c = make_client()
    mid = START + 12 * 3600
    by_epoch = c.get("/api/v1/anomalies", params={"from": mid, "limit": 1000}).json()
    by_iso = c.get("/api/v1/anomalies", params={"from": "2026-03-24T12:00Z", "limit": 1000}).json()
    by_offset = c.get("/api/v1/anomalies", params={"from": "2026-03-24T14:00+02:00", "limit": 1000}).json()
    assert by_epoch["total"] == by_iso["total"] == by_offset["total"] > 0
    a = by_iso["items"][0]
    assert datetime.fromisoformat(a["started_at_iso"].replace("Z", "+00:00")).timestamp() == \
        pytest.approx(a["started_at"], abs=0.001)
    assert a["ts_iso"].endswith("Z") and (a["resolved_at"] is None) == (a["resolved_at_iso"] is None)
    since = c.get("/api/v1/anomalies", params={"since": "6h", "limit": 1000}).json()
    assert since["items"] and all(x["resolved_at"] is None or x["resolved_at"] >= NOW - 6 * 3600
                                  for x in since["items"])
    bad = c.get("/api/v1/anomalies", params={"from": "yesterday-ish"})
    assert bad.status_code == 422 and "from" in bad.json()["detail"] and "ISO 8601" in bad.json()["detail"]
    assert c.get("/api/v1/anomalies", params={"from": "nan"}).status_code == 422
    assert c.get("/api/v1/anomalies", params={"from": END, "to": START}).status_code == 422


def test_paging(make_client: Callable[..., Any]) -> None:
    c = make_client()
    p1 = c.get("/api/v1/anomalies", params={"limit": 3, "offset": 0, "sort": "waste"}).json()
    p2 = c.get("/api/v1/anomalies", params={"limit": 3, "offset": 3, "sort": "waste"}).json()
    assert len(p1["items"]) == 3 and p1["total"] == p2["total"] >= 6
    assert not {a["id"] for a in p1["items"]} & {a["id"] for a in p2["items"]}
    assert p1["items"][0]["waste_usd"] >= p1["items"][-1]["waste_usd"] >= p2["items"][0]["waste_usd"]
    assert c.get("/api/v1/anomalies", params={"limit": 0}).status_code == 422


def test_one_anomaly_with_evidence_events_and_its_plot(make_client: Callable[..., Any],
                                                       demo_store: HistoryStore) -> None:
    c = make_client()
    spike = demo_store.query(AnomalyQuery(kinds=("cost_spike",), sort="waste"))[0]
    d = c.get(f"/api/v1/anomalies/{spike['id']}").json()
    assert d["evidence"] == spike["evidence"] and len(d["events"]) == spike["event_count"] >= 2
    assert d["events"][0]["state"] == "open" and all("ts_iso" in e for e in d["events"])
    plot = d["plot"]
    assert plot["plot"] == "spend_band"
    observed = next(s for s in plot["series"] if s["name"] == "observed")
    assert [p[1] for p in observed["points"]] == [e["evidence"]["observed_usd"] for e in d["events"]
                                                 if "observed_usd" in e["evidence"]]
    assert len(plot["band"]["low"]) == len(plot["band"]["high"]) >= 1
    assert plot["spans"][0]["from"] == spike["started_at"]
    assert any(s["name"] == "hourly spend (recorded)" and s["points"] for s in plot["series"])
    short = c.get(f"/api/v1/anomalies/{spike['id'][:14]}").json()  # a unique prefix
    assert short["id"] == spike["id"]
    idle = demo_store.query(AnomalyQuery(kinds=("idle_gpu",)))[0]
    ip = c.get(f"/api/v1/anomalies/{idle['id']}").json()["plot"]
    assert ip["plot"] == "gpu_activity" and ip["marks"][0]["t"] == idle["started_at"] + idle["evidence"]["dwell_s"]
    loop = demo_store.query(AnomalyQuery(kinds=("retrain_loop",)))[0]
    lp = c.get(f"/api/v1/anomalies/{loop['id']}").json()["plot"]
    assert lp["plot"] == "runs" and len(lp["runs"]) >= 3 and all(r["cost_usd"] is not None for r in lp["runs"])
    assert c.get("/api/v1/anomalies/no-such-id").status_code == 404


def test_summary_and_series_add_up(make_client: Callable[..., Any], demo_store: HistoryStore) -> None:
    c = make_client()
    s = c.get("/api/v1/summary", params={"from": START, "to": END}).json()
    assert s == demo_store.summary(AnomalyQuery(from_ts=START, to_ts=END))
    assert {"by_team", "by_owner", "by_kind", "by_day", "total"} <= set(s)
    wide = {"from": START - 86400, "to": NOW + 86400, "step": "1h"}
    w = c.get("/api/v1/series/waste", params={**wide, "by": "kind"}).json()
    assert {x["name"] for x in w["series"]} == {k["kind"] for k in s["by_kind"] if k["waste_usd"] > 0}
    # buckets add up to the anomalies' waste (a figure revised down keeps its earlier maximum, as by_day does)
    assert sum(x["total"] for x in w["series"]) == pytest.approx(s["total"]["waste_usd"], rel=0.005)
    assert sum(x["total"] for x in w["series"]) == pytest.approx(sum(d["waste_usd"] for d in s["by_day"]), abs=0.5)
    assert len(w["t"]) == len(w["t_iso"]) == len(w["series"][0]["values"]) == math.ceil((NOW - START) / 3600 + 48)
    sp = c.get("/api/v1/series/spend", params={"from": START, "to": END, "step": "1h"}).json()
    teams = {x["name"] for x in sp["series"]}
    assert len(teams) >= 5 and all(len(x["values"]) == 24 for x in sp["series"])
    rows = demo_store.spend.rows(START, END - 1)
    assert sum(x["total"] for x in sp["series"]) == pytest.approx(sum(r["cost_usd"] for r in rows), rel=1e-3)


def test_writes_need_the_token(make_client: Callable[..., Any]) -> None:
    body = {"matchers": ["kind=idle_gpu"], "duration": "1h", "created_by": "ana"}
    ro = make_client(token=None)
    r = ro.post("/api/v1/silences", json=body)
    assert r.status_code == 403 and "SPENDWATCH_API_TOKEN" in r.json()["detail"]
    c = make_client()
    assert c.post("/api/v1/silences", json=body).status_code == 401
    wrong = c.post("/api/v1/silences", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert c.post("/api/v1/silences", json=body, headers=AUTH).status_code == 201
    metrics = c.get("/metrics").text
    assert 'spendwatch_api_denied_total{why="bad_token"} 2.0' in metrics and TOKEN not in metrics


def test_silences_create_list_expire(make_client: Callable[..., Any], demo_store: HistoryStore) -> None:
    c = make_client()
    r = c.post("/api/v1/silences", headers=AUTH, json={
        "matchers": ["kind=idle_gpu", {"name": "workload", "op": "=", "value": "notebooks/*"}],
        "ends_at": iso(NOW + 7200), "created_by": "ana@corp.example", "comment": "notebook cleanup week"})
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["state"] == "active" and s["ends_at"] == pytest.approx(NOW + 7200)
    assert s["matchers_text"] == ["kind=idle_gpu", "workload=notebooks/*"]
    listed = c.get("/api/v1/silences").json()
    assert [x["id"] for x in listed] == [s["id"]]
    nb = [a for a in demo_store.query(AnomalyQuery(kinds=("idle_gpu",))) if (a["workload"] or {}).get("id", "")
          .startswith("notebooks/")]
    assert nb, "the demo has an idle notebook GPU"
    d = c.get(f"/api/v1/anomalies/{nb[0]['id']}").json()
    assert d["status"]["silenced_by"] == [s["id"]]
    e = c.delete(f"/api/v1/silences/{s['id']}", headers=AUTH).json()
    assert e["state"] == "expired"
    assert c.get("/api/v1/silences").json() == []
    assert [x["id"] for x in c.get("/api/v1/silences", params={"state": "expired"}).json()] == [s["id"]]
    for bad, why in [({"matchers": ["colour=red"], "duration": "1h", "created_by": "x"}, "unknown field"),
                     ({"matchers": ["kind=~("], "duration": "1h", "created_by": "x"}, "regular expression"),
                     ({"matchers": ["kind=x"], "created_by": "x"}, "ends_at or duration"),
                     ({"matchers": ["kind=x"], "ends_at": NOW - 5, "created_by": "x"}, "after starts_at"),
                     ({"matchers": ["kind=x"], "starts_at": NOW - 99, "ends_at": NOW - 5, "created_by": "x"}, "past")]:
        r = c.post("/api/v1/silences", headers=AUTH, json=bad)
        assert r.status_code == 422 and why in r.json()["detail"], (bad, r.text)
    assert c.post("/api/v1/silences", headers=AUTH, json={"matchers": [], "duration": "1h",
                                                           "created_by": "x"}).status_code == 422
    assert c.delete("/api/v1/silences/nope", headers=AUTH).status_code == 404


def test_feedback_is_recorded_and_published_keyed_like_its_detector(make_client: Callable[..., Any],
                                                                   demo_store: HistoryStore) -> None:
    published: list[dict[str, Any]] = []
    c = make_client(publish=lambda e: published.append(e) or True)
    idle = demo_store.query(AnomalyQuery(kinds=("idle_gpu",)))[0]
    r = c.post(f"/api/v1/anomalies/{idle['id']}/feedback", headers=AUTH,
               json={"verdict": "snoozed", "by": "ana@corp.example", "duration": "4h"})
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["until"] == pytest.approx(NOW + 4 * 3600) and out["published"] is True
    (event,) = published
    assert validate(dict(event)) and event["type"] == "feedback" and event["verdict"] == "snoozed"
    assert event["key"] == detector_key(idle) == f"{idle['evidence']['node']}/{idle['resource']}"
    assert event["evidence"] == idle["evidence"]
    c.post(f"/api/v1/anomalies/{idle['id']}/feedback", headers=AUTH,
           json={"verdict": "not_a_problem", "by": "bo", "reason": "batch queue gap, expected"})
    d = c.get(f"/api/v1/anomalies/{idle['id']}").json()
    assert [a["verdict"] for a in d["actions"]] == ["snoozed", "not_a_problem"]
    assert d["status"]["not_a_problem_by"] == "bo" and d["status"]["reason"] == "batch queue gap, expected"
    spike = demo_store.query(AnomalyQuery(kinds=("cost_spike",)))[0]
    c.post(f"/api/v1/anomalies/{spike['id']}/feedback", headers=AUTH, json={"verdict": "acknowledged", "by": "cy"})
    assert published[-1]["key"] == spike["workload"]["id"]
    assert c.post(f"/api/v1/anomalies/{spike['id']}/feedback", headers=AUTH,
                  json={"verdict": "maybe", "by": "cy"}).status_code == 422
    assert c.post("/api/v1/anomalies/nope/feedback", headers=AUTH,
                  json={"verdict": "acknowledged", "by": "cy"}).status_code == 404


def test_health_openapi_and_nul_bytes(make_client: Callable[..., Any]) -> None:
    c = make_client()
    assert c.get("/healthz").json()["status"] == "ok"
    doc = c.get("/openapi.json").json()
    assert {"/api/v1/anomalies", "/api/v1/anomalies/{anomaly_id}", "/api/v1/summary", "/api/v1/series/waste",
            "/api/v1/series/spend", "/api/v1/silences", "/api/v1/silences/{silence_id}",
            "/api/v1/anomalies/{anomaly_id}/feedback", "/healthz", "/metrics"} <= set(doc["paths"])
    r = c.get("/api/v1/anomalies", params={"team": "a\x00b"})
    assert r.status_code == 422 and "NUL" in r.json()["detail"]
    assert "spendwatch_api_requests_total" in c.get("/metrics").text
