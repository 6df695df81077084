"""Every metric the chart's alert rules and Grafana dashboard query is one the services really export.

Exported names come from the services themselves: the GPU collector's `/metrics` scraped from a
running `spendwatch collect gpu` (simulated backend), and the worker's and alerter's registries
rendered by prometheus_client, and the API's (`spendwatch serve`) the same way. Queries are parsed
by Prometheus's own PromQL parser (promqlcheck), so a syntax error fails too.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.tools import CHART, parse_promql, template

pytestmark = pytest.mark.helm

# series Prometheus itself adds to every target (not exported by any service)
PROMETHEUS_OWN = {"up"}
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"),
            "summary": ("_count", "_sum", "_created"), "gauge": ("",), "info": ("_info",), "unknown": ("",)}
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def exposition_names(text: str) -> set[str]:
    """Every series name a /metrics text can hold, also for labelled families with no child yet."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names |= {s.name for s in family.samples}
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return names


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    from api.app import ApiMetrics
    from streams.alerter import Metrics as AlerterMetrics
    from streams.metrics import WorkerMetrics
    from tests.collectors.scrape import scrape_collector

    return {"collector": exposition_names(scrape_collector(tmp_path_factory.mktemp("collector"))),
            "worker": exposition_names(WorkerMetrics().render().decode()),
            "alerter": exposition_names(generate_latest(AlerterMetrics().registry).decode()),
            "serve": exposition_names(generate_latest(ApiMetrics().registry).decode())}


def rule_exprs() -> dict[str, str]:
    out: dict[str, str] = {}
    for values in ("all-on-values.yaml", "dcgm-values.yaml"):
        _text, docs = template([CHART / "ci" / values])
        for d in docs:
            if d["kind"] == "PrometheusRule":
                for g in d["spec"]["groups"]:
                    for r in g["rules"]:
                        out[f"rule {r['alert']} ({values})"] = r["expr"]
    return out


def dashboard_exprs() -> dict[str, str]:
    board: dict[str, Any] = json.loads((CHART / "dashboards" / "spendwatch.json").read_text())
    out: dict[str, str] = {}
    for p in board["panels"]:
        for t in p.get("targets", []):
            out[f"panel {p['title']!r} {t['refId']}"] = t["expr"]
    for v in board["templating"]["list"]:
        if v["type"] == "query":
            m = re.fullmatch(r"label_values\((.+),\s*\w+\)", v["query"]["query"])
            assert m, f"variable {v['name']}: expected label_values(<selector>, <label>)"
            out[f"variable {v['name']}"] = m.group(1)
    for key, expr in out.items():
        for var, value in GRAFANA_VARS.items():
            expr = expr.replace(var, value)
        out[key] = expr
    return out


def test_every_queried_metric_is_exported(exported: dict[str, set[str]], summary: list[str]) -> None:
    all_exported = set().union(*exported.values())
    queries = {**rule_exprs(), **dashboard_exprs()}
    results = parse_promql(list(queries.values()))
    missing: list[str] = []
    used: set[str] = set()
    for (where, expr), r in zip(queries.items(), results, strict=True):
        assert r["expr"] == expr
        assert not r.get("error"), f"{where}: PromQL does not parse: {r['error']}\n{expr}"
        assert r["metrics"], f"{where}: selects no metric"
        for name in r["metrics"]:
            used.add(name)
            if name not in all_exported | PROMETHEUS_OWN:
                missing.append(f"{where}: {name}")
    assert not missing, "queried but exported by no service:\n" + "\n".join(missing)
    by_service = {svc: sorted(used & names) for svc, names in exported.items()}
    for svc, names in by_service.items():
        # the API's metrics are for whoever scrapes it; the chart's rules and board need not use them
        assert names or svc == "serve", f"nothing of the {svc}'s metrics is used"
    assert used <= all_exported | PROMETHEUS_OWN
    rules = sum(k.startswith("rule ") for k in queries)
    summary.append(f"metric names: {len(queries)} queries ({rules} rule expressions, {len(queries) - rules} "
                   f"dashboard queries) parse; {len(used)} metrics used, all exported "
                   + "; ".join(f"{svc} {len(n)}" for svc, n in by_service.items())
                   + f"; Prometheus's own: {sorted(used & PROMETHEUS_OWN)}")


def test_a_misspelt_metric_is_caught(exported: dict[str, set[str]]) -> None:
    """The check itself: a query on a name nobody exports is reported, a bad query does not parse."""
    (ok, typo, broken) = parse_promql(["rate(spendwatch_events_in_total[5m])", "spendwatch_event_lag_seconds > 1",
                                       "sum(rate(spendwatch_events_in_total[5m])"])
    all_exported = set().union(*exported.values())
    assert ok["metrics"] == ["spendwatch_events_in_total"] and set(ok["metrics"]) <= all_exported
    assert typo["metrics"] == ["spendwatch_event_lag_seconds"] and not set(typo["metrics"]) <= all_exported
    assert broken.get("error")


def test_exported_names_come_from_real_output(exported: dict[str, set[str]]) -> None:
    # labelled families without children still count (HELP/TYPE lines), and suffixes are the real ones
    collector = {"spendwatch_publisher_spooled", "spendwatch_publisher_dropped_total",
                 "spendwatch_collector_gpu_cost_usd_total", "spendwatch_collector_nvml_errors_total"}
    assert collector <= exported["collector"]
    assert {"spendwatch_events_in_total", "spendwatch_batch_records_bucket",
            "spendwatch_event_time_lag_seconds"} <= exported["worker"]
    assert {"spendwatch_alert_delivery_failures", "spendwatch_open_anomalies_waste_usd"} <= exported["alerter"]
    assert "spendwatch_events_in" not in exported["worker"]  # a counter's bare name is not a series

