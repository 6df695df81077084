"""LLM usage exports into billing rows with model, tokens and cost.

- **OpenAI** organization Costs API pages (``GET /v1/organization/costs``, optionally grouped by
  ``line_item`` and ``project_id``) saved as JSON: one page ``{"object": "page", "data": [bucket...],
  "has_more", "next_page"}``, a list of pages, or JSON lines. A bucket is ``{"object": "bucket",
  "start_time", "end_time", "results": [{"object": "organization.costs.result", "amount": {"value",
  "currency"}, "line_item", "project_id"}]}``; ``line_item`` and ``project_id`` are null unless
  grouped by them, ``amount.value`` a number (some clients save it as a string: both are read).
  A row's identity: bucket start and end, project, line item, currency; the model is the line item
  before the comma (``gpt-4o-2024-08-06, input``). With Usage API completions pages (``--usage``;
  grouped by ``project_id`` and ``model``: ``input_tokens``, ``input_cached_tokens``,
  ``output_tokens``...), tokens are attached to the matching cost line (input / cached input /
  output by the line item's suffix). Workload: ``llm_usage.openai_projects``, else
  ``openai/<project_id>``.
- **LiteLLM** spend logs: the proxy's ``/spend/logs`` response (a JSON list; ``/spend/logs/v2`` pages
  ``{"data": [...], "total", "page", ...}``) or its ``LiteLLM_SpendLogs`` table exported as CSV
  (``request_id``, ``call_type``, ``api_key``, ``spend``, ``total_tokens``, ``prompt_tokens``,
  ``completion_tokens``, ``startTime``, ``endTime``, ``model``, ``model_group``,
  ``custom_llm_provider``, ``user``, ``metadata`` (JSON), ``team_id``, ``end_user``, ``status``...).
  One row per request (identity: ``request_id``), summed per ``bucket_s`` window, workload and
  model, so overlapping exports never count a request twice.

Every bad row is skipped with its file and position and counted; a file that is not JSON (or not
CSV with a ``spend`` column) is rejected before anything is published.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from collectors.billing.focus import missing, parse_time
from collectors.billing.reconcile import FileNote, Reconciliation
from collectors.billing.rows import BadValue, InputRejected, RowValue, clip_id, clip_text, identity, to_decimal

if TYPE_CHECKING:
    from collectors.billing.run import BillingRequest, Unit
    from spendwatch.config import Settings


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


def _rejected(msg: str) -> Exception:
    return InputRejected(msg)


def _load_json_docs(path: Path) -> list[Any]:
    data = path.read_bytes()
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        docs = []
        for i, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                docs.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                raise _rejected(f"{path}: not JSON (line {i}: {exc})") from None
        return docs
    return doc if isinstance(doc, list) else [doc]


def _digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _check_files(paths: list[str]) -> list[Path]:
    bad = [p for p in paths if not Path(p).is_file()]
    if bad:
        raise _rejected("; ".join(f"{p}: no such file" for p in bad))
    return [Path(p) for p in paths]


# --- OpenAI ---------------------------------------------------------------------------------------------
def _buckets(path: Path) -> Iterator[tuple[str, Any]]:
    """(position, bucket) of every bucket in the saved pages."""
    docs = _load_json_docs(path)
    if not any(isinstance(d, dict) and (d.get("object") in ("page", "bucket") or "results" in d) for d in docs) \
            and not any(isinstance(d, list) for d in docs):
        raise _rejected(f"{path}: not an OpenAI Costs/Usage API export (expected pages with \"object\": \"page\")")
    for pi, doc in enumerate(docs):
        items: list[Any]
        if isinstance(doc, dict) and doc.get("object") == "page":
            items = doc.get("data") or []
        elif isinstance(doc, list):
            items = [b for d in doc for b in ((d.get("data") or []) if isinstance(d, dict) and
                                               d.get("object") == "page" else [d])]
        else:
            items = [doc]
        for bi, b in enumerate(items):
            yield f"{path}: page {pi + 1} bucket {bi + 1}", b


def _openai_workload(project: str | None, cfg: LlmUsageConfig) -> dict[str, Any]:
    mapped = cfg.openai_projects.get(project or "")
    if mapped:
        return {"kind": "inference", **mapped}
    return {"id": clip_id(f"openai/{project or 'default'}"), "kind": "inference"}


def openai_units(req: BillingRequest, settings: Settings, report: Reconciliation) -> Iterator[Unit]:
    from collectors.billing.run import Unit

    cfg = settings.build(LlmUsageConfig, "llm_usage")
    tokens: dict[tuple[float, str | None, str], dict[str, int]] = {}
    for path in _check_files(req.usage_files):
        for where, b in _buckets(path):
            if not isinstance(b, dict):
                continue
            for r in b.get("results") or []:
                if not isinstance(r, dict) or not str(r.get("object", "")).startswith("organization.usage"):
                    continue
                try:
                    k = (float(b["start_time"]), r.get("project_id"), str(r.get("model") or ""))
                    t = tokens.setdefault(k, {"input": 0, "output": 0, "cached input": 0})
                    cached = int(r.get("input_cached_tokens") or 0)
                    t["input"] += int(r.get("input_tokens") or 0) - cached
                    t["cached input"] += cached
                    t["output"] += int(r.get("output_tokens") or 0)
                except (KeyError, TypeError, ValueError) as exc:
                    report.warn("usage_unreadable", f"{where}: {type(exc).__name__}: {exc} (no token counts)")
    paths = _check_files(req.files)
    docs = [(p, list(_buckets(p))) for p in paths]  # every file checked before any is applied
    for path, buckets in docs:
        note = FileNote(str(path), "json")
        report.files.append(note)
        rows: dict[str, RowValue] = {}
        for where, b in buckets:
            if not isinstance(b, dict):
                note.rows += 1
                report.skip("malformed_row", f"{where}: expected a bucket object, got {type(b).__name__}")
                continue
            try:
                start, end = float(b["start_time"]), float(b["end_time"])
                if not (0 <= start <= end < 32503680000):
                    raise ValueError(f"start_time {start} / end_time {end}")
            except (KeyError, TypeError, ValueError) as exc:
                n = len(b.get("results") or [])
                note.rows += n
                for _ in range(max(n, 1)):
                    report.skip("bad_period", f"{where}: bucket start_time/end_time unusable ({exc})")
                continue
            for ri, r in enumerate(b.get("results") or [], start=1):
                note.rows += 1
                rwhere = f"{where} result {ri}"
                if not isinstance(r, dict):
                    report.skip("malformed_row", f"{rwhere}: expected an object")
                    continue
                amount_obj: dict[str, Any] = r["amount"] if isinstance(r.get("amount"), dict) else {}
                currency = str(amount_obj.get("currency") or "usd").upper()
                try:
                    if missing(amount_obj.get("value")):
                        raise BadValue("amount.value", "missing", "missing_cost")
                    amount = to_decimal(amount_obj["value"], "amount.value")
                except BadValue as exc:
                    report.input_row("usage", currency, {"amount": None})
                    report.skip(exc.reason, f"{rwhere}: {exc}")
                    continue
                report.input_row("usage", currency, {"amount": amount})
                item = str(r.get("line_item") or "")
                model, _, part = item.partition(", ")
                project = r.get("project_id")
                template: dict[str, Any] = {
                    "period_start": start, "period_end": end, "workload": _openai_workload(project, cfg),
                    "source": "llm_usage", "service": "OpenAI API", "resource_id": clip_id(project),
                    "sku": clip_text(item or None), "model": clip_text(model or None), "usage_unit": None,
                    "charge_category": "usage"}
                qty = None
                got = tokens.get((start, project, model))
                if got is not None and part in got:
                    qty, template["usage_unit"] = float(got[part]), "tokens"
                rkey = identity("openai", [start, end, project, item, currency])
                report.accepted.add(None, currency, amount)
                prev = rows.get(rkey)
                if prev is not None:  # the same result twice in one export: the later one wins
                    report.seen_again.add(None, prev.currency, prev.amount)
                rows[rkey] = RowValue(rkey, template, currency, amount, qty, rwhere)
        report.rows_read += note.rows
        yield Unit(note, _digest(path), list(rows.values()))


# --- LiteLLM ------------------------------------------------------------------------------------------
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
    if missing(cur):
        return None
    return str(cur)


def _litellm_rows(path: Path) -> tuple[str, list[tuple[str, Any]]]:
    head = path.read_bytes()[:4096].lstrip()
    if head[:1] in (b"[", b"{"):
        out: list[tuple[str, Any]] = []
        for doc in _load_json_docs(path):
            if isinstance(doc, dict) and isinstance(doc.get("data"), list):
                items: list[Any] = doc["data"]
            elif isinstance(doc, list):
                items = doc
            else:
                items = [doc]
            out.extend((f"{path}: item {len(out) + i + 1}", x) for i, x in enumerate(items))
        return "json", out
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
            reader = csv.reader(f)
            header = [h.strip() for h in next(reader, [])]
            if "spend" not in header or "\ufffd" in "".join(header):
                raise _rejected(f"{path}: not a LiteLLM spend log (JSON, or CSV with a 'spend' column; "
                                f"header: {', '.join(header[:8])[:200]!r})")
            rows: list[tuple[str, Any]] = []
            for cells in reader:
                where = f"{path}:{reader.line_num}"
                if not cells:
                    continue
                if len(cells) != len(header):
                    rows.append((where, f"{len(cells)} fields, the header has {len(header)}"))
                    continue
                rows.append((where, dict(zip(header, cells, strict=True))))
    except csv.Error as exc:
        raise _rejected(f"{path}: not CSV: {exc}") from None
    return "csv", rows


def litellm_units(req: BillingRequest, settings: Settings, report: Reconciliation) -> Iterator[Unit]:
    from collectors.billing.run import Unit

    cfg = settings.build(LlmUsageConfig, "llm_usage")
    loaded = [(p, *_litellm_rows(p)) for p in _check_files(req.files)]
    for path, kind, items in loaded:
        note = FileNote(str(path), kind)
        report.files.append(note)
        rows: dict[str, RowValue] = {}
        for where, row in items:
            note.rows += 1
            if not isinstance(row, dict):
                report.skip("malformed_row", f"{where}: {row if isinstance(row, str) else 'expected an object'}")
                continue
            rv = _litellm_row(row, where, cfg, report)
            if rv is not None:
                prev = rows.get(rv.rkey)
                if prev is not None:
                    report.seen_again.add(None, prev.currency, prev.amount)
                rows[rv.rkey] = rv
        report.rows_read += note.rows
        yield Unit(note, _digest(path), list(rows.values()))


def _litellm_row(row: Mapping[str, Any], where: str, cfg: LlmUsageConfig, report: Reconciliation) -> RowValue | None:
    try:
        if missing(row.get("spend")):
            raise BadValue("spend", "missing", "missing_cost")
        spend = to_decimal(row["spend"], "spend")
    except BadValue as exc:
        report.input_row("usage", "USD", {"spend": None})
        report.skip(exc.reason, f"{where}: {exc}")
        return None
    report.input_row("usage", "USD", {"spend": spend})
    raw_t = row.get("startTime") if not missing(row.get("startTime")) else row.get("start_time")
    try:
        if missing(raw_t):
            raise ValueError("missing")
        t = parse_time(raw_t)
        if not 0 <= t < 32503680000:
            raise ValueError("out of range")
    except (TypeError, ValueError, OverflowError):
        report.skip("bad_period", f"{where}: column startTime: {str(raw_t)[:40]!r} is not a date/time", "USD", spend)
        return None
    wid = next((v for f in cfg.litellm_workload_fields if (v := _field(row, f))), None)
    workload: dict[str, Any] = {"id": clip_id(wid or "litellm/unattributed"), "kind": "inference"}
    owner = next((v for f in cfg.litellm_owner_fields if (v := _field(row, f))), None)
    team = next((v for f in cfg.litellm_team_fields if (v := _field(row, f))), None)
    if owner:
        workload["owner"] = clip_id(owner)
    if team:
        workload["team"] = clip_id(team)
    start = t - t % cfg.bucket_s
    model = _field(row, "model") or _field(row, "model_group")
    provider = _field(row, "custom_llm_provider") or "proxy"
    template: dict[str, Any] = {
        "period_start": start, "period_end": start + cfg.bucket_s, "workload": workload, "source": "llm_usage",
        "service": clip_text(f"LiteLLM ({provider})"), "resource_id": None, "sku": None,
        "model": clip_text(model), "usage_unit": "tokens", "charge_category": "usage"}
    qty: float | None = None
    tok = row.get("total_tokens")
    if not missing(tok):
        try:
            q = to_decimal(tok, "total_tokens")
            qty = float(q) if q >= 0 else None
        except BadValue as exc:
            report.warn("bad_quantity", f"{where}: {exc} (published without tokens)")
    rid = _field(row, "request_id") or hashlib.sha256(orjson.dumps(row, option=orjson.OPT_SORT_KEYS,
                                                                   default=str)).hexdigest()
    report.accepted.add(None, "USD", spend)
    return RowValue(identity("litellm", [rid]), template, "USD", Decimal(spend), qty, where)
