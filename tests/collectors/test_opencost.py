"""OpenCost allocation API as a billing source, against a local HTTP server serving its documented format.

fixtures/opencost_allocation_swagger.json is the example response of OpenCost's API reference
(docs/swagger.json, ``/allocation/compute``) unchanged; opencost_allocation_ns_controller.json has the
same fields for ``aggregate=namespace,controller&step=1h`` (two hourly sets, GPU costs, ``__idle__``).
"""

from __future__ import annotations

import copy
import io
import subprocess
import sys
import urllib.parse
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from collectors.billing.opencost import query_url
from collectors.billing.run import BillingRequest, BillingResult, run_billing
from spendwatch.config import Settings
from spendwatch.events import validate
from tests.collectors.httpserve import serve

FIX = Path(__file__).parent / "fixtures"
NS = orjson.loads((FIX / "opencost_allocation_ns_controller.json").read_bytes())


def collect(tmp_path: Path, url: str | None = None, files: list[str] | None = None,
            cfg: Settings | None = None) -> tuple[BillingResult, list[dict[str, Any]]]:
    buf = io.BytesIO()
    req = BillingRequest("opencost", files or [], url=url, state=str(tmp_path / "s.sqlite"), stdout=True)
    r = run_billing(cfg or Settings(), req, stdout=buf)
    return r, [validate(orjson.loads(x)) for x in buf.getvalue().splitlines()]


def total(events: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(repr(e["cost_usd"])) + Decimal(repr(e.get("adjustment_usd") or 0)) for e in events),
               Decimal(0))


def test_query_is_aligned_to_whole_steps() -> None:
    q = urllib.parse.urlparse(query_url("http://oc:9003", 86400, 3600, "namespace,controller", now=1_795_140_100.0))
    params = dict(urllib.parse.parse_qsl(q.query))
    assert q.path == "/allocation/compute" and params["aggregate"] == "namespace,controller"
    start, end = map(int, params["window"].split(","))
    assert end == 1_795_140_000 and end - start == 86400 and params["accumulate"] == "false"
    full = "http://oc:9003/allocation/compute?window=1d"
    assert query_url(full, 86400, 3600, "namespace") == full  # a full query URL is used as given


def test_namespace_controller_allocations_with_gpu_cost(tmp_path: Path) -> None:
    with serve(orjson.dumps(NS), "application/json") as srv:
        r, evs = collect(tmp_path, url=srv.url)
    assert srv.requests[0].startswith("/allocation/compute?") and "aggregate=namespace%2Ccontroller" in srv.requests[0]
    assert r.exit_code == 0 and r.report.rows_read == 6 and r.report.unexplained() == 0
    want = sum((Decimal(repr(a["totalCost"])) for s in NS["data"] for a in s.values()), Decimal(0))
    assert abs(total(evs) - want) < Decimal("1e-9")
    gpu = [e for e in evs if e["sku"] == "gpu" and e["workload"]["id"] == "ml/train-42"]
    assert [(e["cost_usd"], e["usage_quantity"], e["usage_unit"]) for e in gpu] == [(15.6, 4.0, "GPU-hours"),
                                                                                    (31.2, 8.0, "GPU-hours")]
    serve_ev = next(e for e in evs if e["workload"]["id"] == "ml/llm-serve")
    assert serve_ev["workload"]["team"] == "ml-platform" and serve_ev["workload"]["owner"] == "ana@example.com"
    assert serve_ev["workload"]["labels"] == {"cluster": "gpu-prod", "controller_kind": "deployment"}
    assert serve_ev["source"] == "custom" and serve_ev["period_end"] - serve_ev["period_start"] == 3600
    assert any(e["workload"]["id"] == "opencost/__idle__" for e in evs)


def test_rerun_restatement_and_idle_excluded(tmp_path: Path) -> None:
    with serve(orjson.dumps(NS), "application/json") as srv:
        _r, first = collect(tmp_path, url=srv.url)
        _r, again = collect(tmp_path, url=srv.url)
        assert again == []  # the same windows: nothing new
        revised = copy.deepcopy(NS)
        a = revised["data"][1]["ml/job:train-42"]
        a["gpuCost"], a["totalCost"] = 29.0, round(a["totalCost"] - 2.2, 6)
        srv.body = orjson.dumps(revised)
        r, second = collect(tmp_path, url=srv.url)
    assert [(e["workload"]["id"], e["sku"], e["adjustment_usd"], e["adjustment_reason"]) for e in second] == [
        ("ml/train-42", "gpu", -2.2 if abs(second[0]["adjustment_usd"] + 2.2) < 1e-9 else second[0]["adjustment_usd"],
         "restatement")]
    want = sum((Decimal(repr(a["totalCost"])) for s in revised["data"] for a in s.values()), Decimal(0))
    assert abs(total(first + second) - want) < Decimal("1e-9")
    path = tmp_path / "resp.json"
    path.write_bytes(orjson.dumps(NS))
    r, evs = collect(tmp_path / "x", files=[str(path)], cfg=Settings(sections={"opencost": {"include_idle": False}}))
    assert r.report.skipped["idle_excluded"].rows == 2 and not any("__idle__" in e["workload"]["id"] for e in evs)


def test_documented_example_response(tmp_path: Path) -> None:
    with serve((FIX / "opencost_allocation_swagger.json").read_bytes(), "application/json") as srv:
        r, evs = collect(tmp_path, url=srv.url + "/allocation/compute?window=1d&aggregate=label%3Aapp")
    assert srv.requests == ["/allocation/compute?window=1d&aggregate=label%3Aapp"]
    ids = {e["workload"]["id"] for e in evs}
    assert ids == {"opencost/__unallocated__", "opencost/opencost"}  # prometheus costs 0: nothing to publish
    assert abs(total(evs) - Decimal("0.055576") - Decimal("0.004002")) < Decimal("1e-9")
    assert "sum of components" in r.report.render()  # totalCost vs components: the API's rounding, shown


def test_api_errors_are_rejected_without_publishing(tmp_path: Path) -> None:
    with serve(b'{"code": 500, "message": "Prometheus unreachable", "data": []}', "application/json") as srv:
        r, evs = collect(tmp_path, url=srv.url)
    assert r.exit_code == 3 and evs == [] and "Prometheus unreachable" in (r.error or "")
    r, evs = collect(tmp_path, url="http://127.0.0.1:1")
    assert r.exit_code == 3 and "cannot reach OpenCost" in (r.error or "")


def test_end_to_end_into_replay(tmp_path: Path) -> None:
    with serve(orjson.dumps(NS), "application/json") as srv:
        _r, evs = collect(tmp_path, url=srv.url)
    path = tmp_path / "billing.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in evs))
    p = subprocess.run([sys.executable, "-m", "spendwatch.cli", "replay", str(path)], capture_output=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert f"replay: {len(evs)} events, 0 bad lines".encode() in p.stderr  # every event is contract input
