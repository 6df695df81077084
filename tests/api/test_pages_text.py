"""The dashboard's counts read as the command line's: `1 event`, `1 anomaly`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import ApiOptions, create_app
from spendwatch.history import open_store

T0 = 1_774_384_000.0


def _event(aid: str, ts: float, state: str = "open") -> dict[str, Any]:
    return {"type": "anomaly", "id": aid, "kind": "idle_gpu", "state": state, "severity": "warning",
            "workload": {"id": "vision/train", "team": "vision", "owner": "ana@corp.example"},
            "resource": f"GPU-{aid}", "started_at": T0, "detected_at": T0 + 600,
            "resolved_at": ts if state == "resolved" else None, "waste_usd": 5.0, "projected_daily_usd": 70.8,
            "summary": f"GPU idle ({aid})", "evidence": {"node": "dgx-1"}, "ts": ts}


def test_history_heading_and_result_count_in_the_singular(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path}/h.db") as store:
        store.record_many([_event("one", T0 + 600), _event("two", T0 + 600), _event("two", T0 + 1200, "resolved")])
        client = TestClient(create_app(store, ApiOptions(), now=lambda: T0 + 3600))
        assert "<h2>History (1 event)</h2>" in client.get("/anomalies/one").text
        assert "<h2>History (2 events)</h2>" in client.get("/anomalies/two").text
        page = client.get("/anomalies", params={"since": "1d", "state": "open"}).text
        assert '<span id="result-count">1</span> anomaly,' in page
        page = client.get("/anomalies", params={"since": "1d"}).text
        assert '<span id="result-count">2</span> anomalies,' in page
