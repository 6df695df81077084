"""LLM usage exports into ``billing_delta`` events with model, tokens and cost.

- **OpenAI** organization Costs API pages (``GET /v1/organization/costs``, optionally grouped by
  ``line_item`` and ``project_id``), saved as JSON (one page, a list of pages, or JSON lines).
  Each bucket result (``amount.value``, ``line_item`` like ``gpt-4o-2024-08-06, input``,
  ``project_id``) is one line; the model is the line item before the comma. With the Usage API's
  completions pages (``--usage``; grouped by ``project_id`` and ``model``), tokens are attached
  to the matching cost line (input/output by the line item's suffix). Workload: the
  ``openai_projects`` mapping, else ``openai/<project_id>``.
- **LiteLLM** spend logs (``/spend/logs`` JSON or the SpendLogs table as CSV): one row per
  request (``request_id``, ``spend``, ``total_tokens``, ``startTime``, ``model``, ``team_id``,
  ``metadata``...). Requests are summed per ``bucket_s`` window, workload and model; each request
  is its own ledger unit, so overlapping exports never count a request twice.

Idempotence and restatements: see ledger.py.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from collectors.billing.focus import parse_time
from collectors.billing.ledger import Ledger, LedgerStats, Line, aggregate, line_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LlmUsageConfig:
    """``llm_usage`` section."""

    openai_projects: dict[str, dict[str, str]] = field(default_factory=dict)
    litellm_workload_fields: list[str] = field(default_factory=lambda: [
        "metadata.spendwatch_workload", "metadata.user_api_key_team_alias", "team_id",
        "metadata.user_api_key_alias", "user"])
    litellm_owner_fields: list[str] = field(default_factory=lambda: ["metadata.user_api_key_user_email",
                                                                       "metadata.user_api_key_user_id"])
    litellm_team_fields: list[str] = field(default_factory=lambda: ["metadata.user_api_key_team_alias", "team_id"])
    bucket_s: int = 3600


def _load_json_docs(path: str | Path) -> list[Any]:
    data = Path(path).read_bytes()
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return [orjson.loads(line) for line in data.splitlines() if line.strip()]  # JSON lines
    return doc if isinstance(doc, list) else [doc]


def _buckets(path: str | Path) -> Iterator[dict[str, Any]]:
    for doc in _load_json_docs(path):
        if isinstance(doc, dict) and doc.get("object") == "page":
            yield from doc.get("data") or []
        elif isinstance(doc, dict) and "results" in doc:
            yield doc
        elif isinstance(doc, list):
            for d in doc:
                yield from (d.get("data") or []) if d.get("object") == "page" else [d]


def _openai_workload(project: str | None, cfg: LlmUsageConfig) -> dict[str, Any]:
    mapped = cfg.openai_projects.get(project or "")
    if mapped:
        return {"kind": "inference", **mapped}
    return {"id": f"openai/{project or 'default'}", "kind": "inference"}


def collect_openai(costs: list[str | Path], ledger: Ledger, cfg: LlmUsageConfig,
                   usage: list[str | Path] | None = None, stats: LedgerStats | None = None) -> list[dict[str, Any]]:
    """``billing_delta`` events from OpenAI Costs API exports (tokens from Usage API exports if given)."""
    stats = stats or LedgerStats()
    tokens: dict[tuple[float, str | None, str], dict[str, int]] = {}
    for path in usage or []:
        for b in _buckets(path):
            for r in b.get("results") or []:
                if not str(r.get("object", "")).startswith("organization.usage"):
                    continue
                k = (float(b["start_time"]), r.get("project_id"), str(r.get("model") or ""))
                t = tokens.setdefault(k, {"input": 0, "output": 0, "cached input": 0})
                t["input"] += int(r.get("input_tokens") or 0) - int(r.get("input_cached_tokens") or 0)
                t["cached input"] += int(r.get("input_cached_tokens") or 0)
                t["output"] += int(r.get("output_tokens") or 0)
    units: dict[str, dict[str, Line]] = {}
    for path in costs:
        for b in _buckets(path):
            start, end = float(b["start_time"]), float(b["end_time"])
            for r in b.get("results") or []:
                amount = r.get("amount") or {}
                if str(amount.get("currency", "usd")).lower() != "usd":
                    stats.skip("currency")
                    continue
                cost = float(amount.get("value") or 0.0)
                if cost < 0:
                    stats.skip("negative_cost")
                    continue
                item = str(r.get("line_item") or "")
                model, _, part = item.partition(", ")
                project = r.get("project_id")
                template: dict[str, Any] = {
                    "period_start": start, "period_end": end, "workload": _openai_workload(project, cfg),
                    "source": "llm_usage", "service": "OpenAI API", "resource_id": project, "sku": item or None,
                    "model": model or None, "usage_unit": None}
                qty = None
                got = tokens.get((start, project, model))
                if got is not None and part in got:
                    qty, template["usage_unit"] = float(got[part]), "tokens"
                lines = aggregate([(template, cost, qty)])
                key = line_key(template)
                units[f"openai:{key}"] = lines  # one unit per bucket result: a re-fetch replaces it
    return ledger.apply(units, stats)


def _field(row: Mapping[str, Any], dotted: str) -> str | None:
    cur: Any = row
    for part in dotted.split("."):
        if isinstance(cur, str) and cur.startswith("{"):
            try:
                cur = orjson.loads(cur)
            except orjson.JSONDecodeError:
                return None
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    if cur is None or cur == "":
        return None
    return str(cur)


def _litellm_rows(path: str | Path) -> Iterator[dict[str, Any]]:
    if str(path).lower().endswith(".csv"):
        with open(path, encoding="utf-8-sig", newline="") as f:
            yield from csv.DictReader(f)
        return
    for doc in _load_json_docs(path):
        if isinstance(doc, dict) and isinstance(doc.get("data"), list):
            yield from doc["data"]
        elif isinstance(doc, list):
            yield from doc
        elif isinstance(doc, dict):
            yield doc


def collect_litellm(paths: list[str | Path], ledger: Ledger, cfg: LlmUsageConfig,
                    stats: LedgerStats | None = None) -> list[dict[str, Any]]:
    """``billing_delta`` events from LiteLLM spend logs, summed per bucket, workload and model."""
    stats = stats or LedgerStats()
    units: dict[str, dict[str, Line]] = {}
    for path in paths:
        for row in _litellm_rows(path):
            try:
                spend = float(row.get("spend") or 0.0)
                t = parse_time(row.get("startTime") or row.get("start_time"))
            except (TypeError, ValueError):
                stats.skip("unparseable")
                continue
            if spend < 0:
                stats.skip("negative_cost")
                continue
            wid = next((v for f in cfg.litellm_workload_fields if (v := _field(row, f))), None)
            workload: dict[str, Any] = {"id": (wid or "litellm/unattributed")[:512], "kind": "inference"}
            owner = next((v for f in cfg.litellm_owner_fields if (v := _field(row, f))), None)
            team = next((v for f in cfg.litellm_team_fields if (v := _field(row, f))), None)
            if owner:
                workload["owner"] = owner
            if team:
                workload["team"] = team
            start = t - t % cfg.bucket_s
            model = str(row.get("model") or row.get("model_group") or "") or None
            template: dict[str, Any] = {
                "period_start": start, "period_end": start + cfg.bucket_s, "workload": workload,
                "source": "llm_usage", "service": f"LiteLLM ({row.get('custom_llm_provider') or 'proxy'})",
                "resource_id": None, "sku": None, "model": model, "usage_unit": "tokens"}
            tok = row.get("total_tokens")
            qty = float(tok) if tok not in (None, "") else None
            rid = row.get("request_id") or hashlib.sha256(orjson.dumps(row, option=orjson.OPT_SORT_KEYS,
                                                                       default=str)).hexdigest()
            units[f"litellm:{rid}"] = aggregate([(template, spend, qty)])
    return ledger.apply(units, stats)
