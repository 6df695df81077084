"""The routing tree, written as YAML inline; and the console notifier used without Slack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from alerting.notifiers.console import ConsoleNotifier
from alerting.pipeline import build_alert_pipeline
from alerting.routing import load_routes, parse_routes
from spendwatch.config import Settings
from spendwatch.errors import ConfigError

ROUTES = yaml.safe_load("""
route:
  channel: "#default"
  min_daily_usd: 5
  group_by: [kind, team]
  routes:
    - name: finops
      match: {severity: critical}
      channel: "#finops"
      continue: true
    - name: vision
      match: {team: vision}
      channel: "#vision"
      min_severity: warning
    - name: llm
      match: {team: [llm, "llm-*"]}
      channel: "#llm"
      min_daily_usd: 50
      routes:
        - match: {kind: cost_spike, labels.env: prod}
          channel: "#llm-prod"
    - name: platform
      match: {team: unallocated}
      channel: "#platform"
    - name: research
      match_re: {node: "dgx-.*", owner: ".*@research\\\\.example"}
      channel: "#research"
      group_by: [node]
""")


def a(kind: str = "idle_gpu", severity: str = "warning", team: str | None = None, owner: str | None = None,
      node: str = "n1", daily: float = 70.0, labels: dict[str, str] | None = None) -> dict[str, Any]:
    wl = {"id": "w", **({"team": team} if team else {}), **({"owner": owner} if owner else {}),
          **({"labels": labels} if labels else {})}
    return {"id": "x", "kind": kind, "severity": severity, "state": "open", "workload": wl, "resource": "r",
            "waste_usd": 1.0, "projected_daily_usd": daily, "started_at": 0.0, "ts": 1.0,
            "evidence": {"node": node}}


@pytest.mark.parametrize(("anomaly", "channels"), [
    (a(), ["#default"]),                                                 # nothing matches: the default route
    (a(team="vision"), ["#vision"]),
    (a(team="vision", severity="critical"), ["#finops", "#vision"]),     # continue: true
    # As in Alertmanager: a matching child (even one with continue) means the parent does not take it.
    (a(severity="critical"), ["#finops"]),
    (a(team="llm-serving"), ["#llm"]),                                  # wildcard value
    (a(team="llm", kind="cost_spike", labels={"env": "prod"}), ["#llm-prod"]),  # nested, labels
    (a(team="llm", kind="cost_spike", labels={"env": "dev"}), ["#llm"]),
    (a(node="dgx-7", owner="kim@research.example"), ["#research"]),     # match_re, all must match
    (a(node="dgx-7", owner="kim@corp.example"), ["#default"]),
    ({**a(), "workload": None}, ["#platform"]),                          # allocated to nobody: the unallocated team
])
def test_routes(anomaly: dict[str, Any], channels: list[str]) -> None:
    assert [r.channel for r in parse_routes(ROUTES).routes_for(anomaly)] == channels


def test_options_are_inherited_and_thresholds_apply() -> None:
    router = parse_routes(ROUTES)
    llm_prod = router.routes_for(a(team="llm", kind="cost_spike", labels={"env": "prod"}))[0]
    assert llm_prod.min_daily_usd == 50 and llm_prod.group_by == ("kind", "team")  # from llm, from root
    assert not llm_prod.qualifies(a(daily=49.0)) and llm_prod.qualifies(a(daily=50.0))
    vision = router.by_name["vision"]
    assert not vision.qualifies(a(severity="info")) and vision.qualifies(a(severity="critical"))
    research = router.by_name["research"]
    assert research.group_key(a(node="dgx-7")) == "research|node=dgx-7"


@pytest.mark.parametrize(("bad", "message"), [
    ({"route": {"chanel": "#x"}}, "unknown key"),
    ({"route": {"routes": [{"match": {"colour": "red"}}]}}, "unknown field 'colour'"),
    ({"route": {"min_severity": "loud"}}, "min_severity"),
    ({"route": {"routes": [{"match_re": {"owner": "("}}]}}, "bad regular expression"),
    ({"route": {"match": {"team": "x"}}}, "root route matches everything"),
    ({"route": {"storm_min": 1}}, "storm_min"),
])
def test_bad_routes_are_config_errors(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_routes(bad)


def test_example_routes_file_loads() -> None:
    router = load_routes(Path(__file__).parents[2] / "examples" / "routes.yaml")
    assert router.root.channel == "#spendwatch-alerts"
    assert [r.channel for r in router.routes_for(a(team="vision", severity="critical"))] == ["#finops", "#vision-gpu"]


def test_routing_in_the_pipeline_and_below_threshold_is_silent(capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(yaml.safe_dump(ROUTES))
    p = build_alert_pipeline(Settings({"alerting": {"routes_file": str(routes)}}))
    assert isinstance(p.notifier, ConsoleNotifier)  # no token configured
    p.handle({**a(team="vision", severity="critical"), "id": "big", "summary": "big one"})
    p.handle({**a(daily=1.0), "id": "small", "summary": "tiny one"})  # below the root's $5/day
    p.flush(now=1e12)
    out = capsys.readouterr().out
    assert "[#finops] ALERT" in out and "[#vision] ALERT" in out and "big one" in out
    assert "tiny one" not in out
    p.handle({**a(team="vision", severity="critical"), "id": "big", "state": "resolved", "ts": 99999.0,
              "resolved_at": 99999.0, "waste_usd": 30.0})
    p.flush(now=1e12)
    out = capsys.readouterr().out
    assert out.count("✎ updated") == 2 and out.count("resolved") >= 2  # both channels are told
    p.close()
