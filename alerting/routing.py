"""The routing tree: which channel(s) hear about an anomaly, with which thresholds and grouping.

Read the way Alertmanager's ``dispatch/route.go`` reads: the root route matches everything and is
the default; an anomaly descends into the first child route that matches it, and on into that
child's children; a child with ``continue: true`` lets the search go on to its next siblings, so
one anomaly can reach several channels. When no child matches, the route itself takes it.
Options a child does not set are inherited from its parent.

YAML (``examples/routes.yaml``)::

    route:
      channel: "#spendwatch"          # the default route
      min_severity: info              # info | warning | critical
      min_daily_usd: 0                # projected $/day at least this
      min_waste_usd: 0                # $ lost so far at least this
      group_by: [kind, team]          # one message per group when a storm hits
      group_wait_s: 30                # how long a new group collects members (event time)
      storm_min: 3                    # this many in one group -> one message with a list
      mention_owner: true
      routes:
        - match: {team: vision}       # match: field -> value or list of values (* = wildcard)
          channel: "#vision-gpu"
          continue: true
        - match: {kind: idle_gpu, severity: critical}
          match_re: {owner: ".*@corp\\\\.example$"}   # regular expressions, full match
          channel: "#gpu-oncall"

Match fields: ``kind``, ``severity``, ``state``, ``team``, ``owner``, ``workload`` (id),
``workload_kind``, ``resource``, ``node`` (from the evidence) and ``labels.<name>``.

An anomaly whose ``workload`` is null (a GPU allocated to nobody: capacity waste, not any
team's job) has the unallocated team (``teams.unallocated``, default ``unallocated``:
:mod:`spendwatch.teams`) for matching and grouping, so ``match: {team: unallocated}`` routes it
to whoever runs the fleet.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from spendwatch.errors import ConfigError
from spendwatch.teams import UNALLOCATED_TEAM

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
_FIELDS = ("kind", "severity", "state", "team", "owner", "workload", "workload_kind", "resource", "node")
_INHERITED = ("channel", "min_severity", "min_daily_usd", "min_waste_usd", "group_by", "group_wait_s",
              "storm_min", "mention_owner")
_KEYS = set(_INHERITED) | {"name", "match", "match_re", "continue", "routes"}
_DEFAULTS: dict[str, Any] = {"channel": "#spendwatch", "min_severity": "info", "min_daily_usd": 0.0,
                             "min_waste_usd": 0.0, "group_by": ["kind", "team"], "group_wait_s": 30.0,
                             "storm_min": 3, "mention_owner": True}


def field_value(anomaly: Mapping[str, Any], name: str, unallocated: str = UNALLOCATED_TEAM) -> str | None:
    """The value of a match/group field of an anomaly, as a string (None when absent); the team of
    an anomaly with no workload is ``unallocated``."""
    wl = anomaly.get("workload") or {}
    if name == "team" and anomaly.get("workload") is None:
        return unallocated
    if name.startswith("labels."):
        v = (wl.get("labels") or {}).get(name[len("labels."):])
    elif name in ("team", "owner"):
        v = wl.get(name)
    elif name == "workload":
        v = wl.get("id")
    elif name == "workload_kind":
        v = wl.get("kind")
    elif name == "node":
        v = (anomaly.get("evidence") or {}).get("node")
    else:
        v = anomaly.get(name)
    return None if v is None else str(v)


@dataclass(frozen=True)
class Route:
    """One node of the routing tree, with its inherited options resolved."""

    name: str
    channel: str
    min_severity: str = "info"
    min_daily_usd: float = 0.0
    min_waste_usd: float = 0.0
    group_by: tuple[str, ...] = ("kind", "team")
    group_wait_s: float = 30.0
    storm_min: int = 3
    mention_owner: bool = True
    match: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    match_re: Mapping[str, re.Pattern[str]] = field(default_factory=dict)
    continue_: bool = False
    routes: tuple[Route, ...] = ()
    unallocated_team: str = UNALLOCATED_TEAM

    def matches(self, anomaly: Mapping[str, Any]) -> bool:
        """Whether this route's own matchers accept the anomaly (children not considered)."""
        for name, allowed in self.match.items():
            v = field_value(anomaly, name, self.unallocated_team)
            if v is None or not any(fnmatch.fnmatchcase(v, pattern) for pattern in allowed):
                return False
        for name, regex in self.match_re.items():
            v = field_value(anomaly, name, self.unallocated_team)
            if v is None or not regex.fullmatch(v):
                return False
        return True

    def qualifies(self, anomaly: Mapping[str, Any]) -> bool:
        """Whether the anomaly is big enough for this route's channel (severity and dollars)."""
        return (SEVERITY_RANK.get(str(anomaly.get("severity")), 0) >= SEVERITY_RANK[self.min_severity]
                and float(anomaly.get("projected_daily_usd") or 0.0) >= self.min_daily_usd
                and float(anomaly.get("waste_usd") or 0.0) >= self.min_waste_usd)

    def group_key(self, anomaly: Mapping[str, Any]) -> str:
        """Anomalies with the same key on the same route are grouped (a storm becomes one message)."""
        values = (field_value(anomaly, g, self.unallocated_team) or "-" for g in self.group_by)
        return "|".join([self.name, *(f"{g}={v}" for g, v in zip(self.group_by, values, strict=True))])

    def walk(self) -> list[Route]:
        """This route and all below it, depth first."""
        return [self, *(r for child in self.routes for r in child.walk())]


def _match(route: Route, anomaly: Mapping[str, Any]) -> list[Route]:
    if not route.matches(anomaly):
        return []
    found: list[Route] = []
    for child in route.routes:
        got = _match(child, anomaly)
        if got:
            found.extend(got)
            if not child.continue_:
                break
    return found or [route]


class Router:
    """Routes anomalies through a tree of :class:`Route`."""

    def __init__(self, root: Route) -> None:
        self.root = root
        self.by_name = {r.name: r for r in root.walk()}

    def routes_for(self, anomaly: Mapping[str, Any]) -> list[Route]:
        """The routes (receivers) an anomaly reaches; one per channel, first match wins."""
        seen: set[str] = set()
        out = []
        for r in _match(self.root, anomaly):
            if r.channel not in seen:
                seen.add(r.channel)
                out.append(r)
        return out


def _as_values(v: Any, where: str) -> tuple[str, ...]:
    if isinstance(v, list | tuple):
        return tuple(str(x) for x in v)
    if isinstance(v, str | int | float | bool):
        return (str(v),)
    raise ConfigError(f"{where}: expected a string or a list of strings, got {v!r}")


def _check_field(name: str, where: str) -> str:
    if name not in _FIELDS and not name.startswith("labels."):
        raise ConfigError(f"{where}: unknown field {name!r}; use one of {', '.join(_FIELDS)} or labels.NAME")
    return name


def _parse(spec: Mapping[str, Any], parent: Mapping[str, Any], name: str, where: str,
           unallocated: str = UNALLOCATED_TEAM) -> Route:
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: a route must be a mapping, got {spec!r}")
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}")
    opts = {k: spec.get(k, parent[k]) for k in _INHERITED}
    if opts["min_severity"] not in SEVERITY_RANK:
        raise ConfigError(f"{where}.min_severity: {opts['min_severity']!r} is not info, warning or critical")
    if not isinstance(opts["channel"], str) or not opts["channel"]:
        raise ConfigError(f"{where}.channel: expected a channel name or id")
    group_by = tuple(_check_field(str(g), f"{where}.group_by") for g in _as_values(opts["group_by"], where))
    try:
        storm_min = int(opts["storm_min"])
        numbers = {k: float(opts[k]) for k in ("min_daily_usd", "min_waste_usd", "group_wait_s")}
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if storm_min < 2:
        raise ConfigError(f"{where}.storm_min: must be at least 2 (a group of one is a single message)")
    match = {_check_field(str(k), f"{where}.match"): _as_values(v, f"{where}.match.{k}")
             for k, v in (spec.get("match") or {}).items()}
    try:
        match_re = {_check_field(str(k), f"{where}.match_re"): re.compile(str(v))
                    for k, v in (spec.get("match_re") or {}).items()}
    except re.error as exc:
        raise ConfigError(f"{where}.match_re: bad regular expression: {exc}") from None
    name = str(spec.get("name") or name)
    children = spec.get("routes") or []
    if not isinstance(children, list):
        raise ConfigError(f"{where}.routes: expected a list of routes")
    return Route(
        name=name, channel=opts["channel"], min_severity=opts["min_severity"], group_by=group_by,
        storm_min=storm_min, mention_owner=bool(opts["mention_owner"]), match=match, match_re=match_re,
        continue_=bool(spec.get("continue", False)),
        routes=tuple(_parse(c, opts, f"{name}/{i}", f"{where}.routes[{i}]", unallocated)
                     for i, c in enumerate(children)),
        unallocated_team=unallocated, **numbers)


def parse_routes(data: Mapping[str, Any] | None, where: str = "routes",
                 unallocated_team: str = UNALLOCATED_TEAM) -> Router:
    """A :class:`Router` from the parsed YAML (a mapping with a ``route`` key, or the root route itself);
    ``unallocated_team``: the team of anomalies with no workload (``teams.unallocated``)."""
    data = data or {}
    root = data.get("route", data) if isinstance(data, Mapping) else data
    if isinstance(root, Mapping) and ("match" in root or "match_re" in root):
        raise ConfigError(f"{where}: the root route matches everything; put matchers on its child routes")
    return Router(_parse(root or {}, _DEFAULTS, "root", where, unallocated_team))


def load_routes(path: str | Path, unallocated_team: str = UNALLOCATED_TEAM) -> Router:
    """Read a routing tree from a YAML file."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read routes file {p}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    if data is not None and not isinstance(data, Mapping):
        raise ConfigError(f"{p}: expected a mapping with a 'route' key")
    return parse_routes(data, str(p), unallocated_team)
