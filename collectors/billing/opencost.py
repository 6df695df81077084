"""OpenCost's allocation API as a billing source: Kubernetes cost per namespace/controller per window.

``spendwatch collect billing opencost --url http://opencost.opencost:9003`` queries
``GET /allocation/compute?window=<start>,<end>&aggregate=namespace,controller&step=<step>&accumulate=false``
with the window in whole steps ending at the last complete step (unix timestamps, as the API
documents), so every run asks for the same windows and a re-run or an overlapping run counts each
window once (a window whose cost OpenCost revised is a restatement). Saved responses can be given
as files instead.

The response (OpenCost API docs, swagger ``/allocation/compute``): ``{"code": 200, "status":
"success", "data": [{"<name>": allocation, ...}, ...]}``, one set per step; an allocation has
``name`` (``namespace/controllerKind:controller``, or ``__idle__`` / ``__unallocated__``),
``properties`` (``cluster``, ``namespace``, ``controller``, ``controllerKind``, ``labels``...),
``window`` ``{start, end}`` (RFC 3339) and the costs ``cpuCost``, ``gpuCost``, ``ramCost``,
``pvCost``, ``networkCost``, ``loadBalancerCost`` (each with a ``...CostAdjustment``),
``sharedCost``, ``externalCost`` and ``totalCost``, with ``cpuCoreHours``, ``gpuHours``,
``ramByteHours``, ``pvByteHours``.

One billing row per allocation, window and cost component (sku ``cpu``, ``gpu``, ``ram``, ``pv``,
``network``, ``load_balancer``, ``shared``, ``external``; amount = cost + adjustment, quantity in
core-hours, GPU-hours, GiB-hours), so GPU spend is its own line. ``workload.id`` is
``namespace/controller`` (the GPU collector's id for the same pods); ``__idle__`` goes to
``opencost.idle_workload`` (or is skipped and reconciled with ``include_idle: false``). The API
rounds each figure to 6 decimals, so ``totalCost`` can differ from the sum of the components by a
few millionths: the reconciliation shows both.
"""

from __future__ import annotations

import hashlib
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from collectors.billing.focus import missing, parse_time
from collectors.billing.reconcile import FileNote, Reconciliation
from collectors.billing.rows import BadValue, InputRejected, RowValue, clip_id, identity, to_decimal
from spendwatch.errors import ConfigError

if TYPE_CHECKING:
    from collectors.billing.run import BillingRequest, Unit
    from spendwatch.config import Settings

COMPONENTS: tuple[tuple[str, str, str | None, str | None, str | None, float], ...] = (
    # sku, cost, adjustment, quantity field, unit, quantity scale
    ("cpu", "cpuCost", "cpuCostAdjustment", "cpuCoreHours", "core-hours", 1.0),
    ("gpu", "gpuCost", "gpuCostAdjustment", "gpuHours", "GPU-hours", 1.0),
    ("ram", "ramCost", "ramCostAdjustment", "ramByteHours", "GiB-hours", 1 / 2**30),
    ("pv", "pvCost", "pvCostAdjustment", "pvByteHours", "GiB-hours", 1 / 2**30),
    ("network", "networkCost", "networkCostAdjustment", None, None, 1.0),
    ("load_balancer", "loadBalancerCost", "loadBalancerCostAdjustment", None, None, 1.0),
    ("shared", "sharedCost", None, None, None, 1.0),
    ("external", "externalCost", None, None, None, 1.0),
)
_DURATION = re.compile(r"^(\d+)([mhd])$")


@dataclass(frozen=True)
class OpenCostConfig:
    """``opencost`` section."""

    url: str = ""  # e.g. http://opencost.opencost:9003
    window: str = "24h"  # how far back each run asks (whole steps)
    step: str = "1h"  # one billing window per step
    aggregate: str = "namespace,controller"
    currency: str = "USD"  # OpenCost's configured currency
    include_idle: bool = True
    idle_workload: str = "opencost/__idle__"
    team_labels: list[str] = field(default_factory=lambda: ["spendwatch.io/team", "team"])
    owner_labels: list[str] = field(default_factory=lambda: ["spendwatch.io/owner", "owner"])
    timeout_s: float = 30.0


def duration_s(text: str, what: str) -> int:
    m = _DURATION.match(text.strip())
    if not m or int(m.group(1)) <= 0:
        raise ConfigError(f"{what}: expected a duration like 30m, 1h, 24h or 7d, got {text!r}")
    return int(m.group(1)) * {"m": 60, "h": 3600, "d": 86400}[m.group(2)]


def query_url(base: str, window_s: int, step_s: int, aggregate: str, now: float | None = None) -> str:
    """The allocation query for the last ``window_s`` in whole ``step_s`` steps (complete steps only)."""
    if "/allocation" in urllib.parse.urlparse(base).path:
        return base
    end = int((time.time() if now is None else now) // step_s * step_s)
    start = end - window_s // step_s * step_s
    q = urllib.parse.urlencode({"window": f"{start},{end}", "aggregate": aggregate, "step": f"{step_s // 60}m",
                                "accumulate": "false"})
    return f"{base.rstrip('/')}/allocation/compute?{q}"


def fetch(url: str, timeout_s: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 - the URL is the user's setting
            return bytes(resp.read())
    except urllib.error.HTTPError as exc:
        body = exc.read()[:300].decode("utf-8", "replace")
        raise InputRejected(f"OpenCost at {url} answered HTTP {exc.code}: {body}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputRejected(f"cannot reach OpenCost at {url}: {reason}") from None


def _sets(body: bytes, where: str) -> list[Any]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InputRejected(f"{where}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise InputRejected(f"{where}: not an OpenCost allocation response (expected {{\"code\": 200, \"data\": "
                            f"[...]}})")
    if doc.get("code") not in (None, 200):
        raise InputRejected(f"{where}: OpenCost answered code {doc.get('code')}: {str(doc.get('message'))[:200]}")
    return list(doc["data"])


def opencost_units(req: BillingRequest, settings: Settings, report: Reconciliation) -> Iterator[Unit]:
    from collectors.billing.run import Unit

    cfg = settings.build(OpenCostConfig, "opencost")
    inputs: list[tuple[str, str, bytes]] = []  # (where, kind, body)
    url = req.url or cfg.url
    if url:
        step = duration_s(cfg.step, "opencost.step")
        window = duration_s(req.window or cfg.window, "--window / opencost.window")
        if window < step:
            raise ConfigError(f"opencost.window ({req.window or cfg.window}) is shorter than one step ({cfg.step})")
        q = query_url(url, window, step, cfg.aggregate)
        inputs.append((q, "http", fetch(q, cfg.timeout_s)))
    for f in req.files:
        p = Path(f)
        if not p.is_file():
            raise InputRejected(f"{f}: no such file")
        inputs.append((f, "json", p.read_bytes()))
    if not inputs:
        raise ConfigError("collect billing opencost: give --url (or opencost.url) or saved response FILEs")
    parsed = [(where, kind, body, _sets(body, where)) for where, kind, body in inputs]
    for where, kind, body, sets in parsed:
        note = FileNote(where, kind)
        report.files.append(note)
        rows: list[RowValue] = []
        for si, s in enumerate(sets):
            if not isinstance(s, dict):
                continue
            for name, alloc in s.items():
                note.rows += 1
                rows.extend(_allocation_rows(str(name), alloc, f"{where}: set {si + 1} {name}", cfg, report))
        report.rows_read += note.rows
        yield Unit(note, "sha256:" + hashlib.sha256(body).hexdigest(), rows)


def _allocation_rows(name: str, a: Any, where: str, cfg: OpenCostConfig, report: Reconciliation) -> list[RowValue]:
    cur = cfg.currency.upper()
    if not isinstance(a, dict):
        report.skip("malformed_row", f"{where}: expected an allocation object")
        return []
    amounts: list[tuple[str, Decimal, float | None, str | None]] = []
    try:
        for sku, cost_f, adj_f, qty_f, unit, scale in COMPONENTS:
            v = Decimal(0)
            for f in (cost_f, adj_f):
                if f is not None and not missing(a.get(f)):
                    v += to_decimal(a[f], f)
            qty = None
            if qty_f is not None and not missing(a.get(qty_f)):
                q = to_decimal(a[qty_f], qty_f)
                qty = float(q) * scale if q >= 0 else None
            amounts.append((sku, v, qty, unit))
        total = to_decimal(a["totalCost"], "totalCost") if not missing(a.get("totalCost")) else None
    except BadValue as exc:
        report.input_row("allocation", cur, {"totalCost": None})
        report.skip(exc.reason, f"{where}: {exc}")
        return []
    comp_sum = sum((v for _s, v, _q, _u in amounts), Decimal(0))
    report.input_row("allocation", cur, {"totalCost": total, "sum of components": comp_sum})
    win: dict[str, Any] = a["window"] if isinstance(a.get("window"), dict) else {}
    try:
        start, end = parse_time(win.get("start")), parse_time(win.get("end"))
        if end < start:
            raise ValueError("end before start")
    except (TypeError, ValueError) as exc:
        report.skip("bad_period", f"{where}: window {win!r} unusable ({exc})", cur, comp_sum)
        return []
    props: dict[str, Any] = a["properties"] if isinstance(a.get("properties"), dict) else {}
    if name == "__idle__" or name.endswith("/__idle__"):
        if not cfg.include_idle:
            report.skip("idle_excluded", f"{where}: idle cost (opencost.include_idle: false)", cur, comp_sum)
            return []
        wid = cfg.idle_workload
    else:
        ns, ctl = props.get("namespace"), props.get("controller")
        wid = f"{ns}/{ctl}" if ns and ctl else f"{ns}/{name.rsplit('/', 1)[-1]}" if ns else f"opencost/{name}"
    labels_src: dict[str, Any] = props["labels"] if isinstance(props.get("labels"), dict) else {}
    workload: dict[str, Any] = {"id": clip_id(wid)}
    for fname, keys in (("team", cfg.team_labels), ("owner", cfg.owner_labels)):
        found = next((str(labels_src[k]) for k in keys if labels_src.get(k)), None)
        if found:
            workload[fname] = clip_id(found)
    labels = {k: str(props[p]) for k, p in (("cluster", "cluster"), ("controller_kind", "controllerKind"))
              if props.get(p)}
    if labels:
        workload["labels"] = labels
    out = []
    for sku, v, qty, unit in amounts:
        template = {"period_start": start, "period_end": end, "workload": workload, "source": "custom",
                    "service": "Kubernetes (OpenCost)", "resource_id": clip_id(str(props.get("cluster") or "") or None),
                    "sku": sku, "usage_unit": unit if qty else None, "charge_category": "usage"}
        rkey = identity("opencost", [props.get("cluster"), start, end, name, sku])
        out.append(RowValue(rkey, template, cur, v, qty if qty else None, where))
    report.accepted.add(None, cur, comp_sum)
    if total is not None and abs(total - comp_sum) > Decimal("0.000001") * 8:
        report.warn("total_differs", f"{where}: totalCost {total} vs sum of components {comp_sum}")
    return out
