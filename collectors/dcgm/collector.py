"""`spendwatch collect dcgm`: scrape dcgm-exporter and publish contract ``gpu_sample`` events.

Clusters that run NVIDIA's GPU Operator already have dcgm-exporter on every GPU node; this
collector reads its ``/metrics`` every ``interval_s`` instead of a second NVML DaemonSet. Per GPU
and per MIG instance (collectors/dcgm/exporter.py) it publishes:

- ``util_gpu_pct`` = ``DCGM_FI_DEV_GPU_UTIL``; where DCGM offers no utilization (MIG instances),
  ``DCGM_FI_PROF_GR_ENGINE_ACTIVE`` x 100 stands in (``util_source: "dcgm_gr_engine_active"``),
  then ``DCGM_FI_PROF_SM_ACTIVE`` x 100;
- ``sm_active_pct`` = ``DCGM_FI_PROF_SM_ACTIVE`` x 100 (null when the profiling fields are off);
- ``mem_used_bytes`` = FB_USED, ``mem_total_bytes`` = FB_USED + FB_FREE + FB_RESERVED (MiB -> bytes);
- ``power_w`` = ``DCGM_FI_DEV_POWER_USAGE`` (GPUs; null for a MIG instance: the power is the GPU's);
- ``price_per_hour_usd`` from the ``prices`` table by ``modelName``, a MIG slice its share
  (``3g.40gb`` = 3/7 of the GPU);
- ``workload`` from the pod dcgm-exporter maps to the device: ``attribution: labels`` (default)
  makes ``namespace/controller`` from the pod name (``llm-serve-7d9f8b6c5d-x2k4q`` ->
  ``llm-serve``; Deployment, ReplicaSet, Job, CronJob, DaemonSet and StatefulSet name patterns),
  ``kube`` asks the Kubernetes API for the owning controller, owner and team (as the NVML
  collector does), ``static`` uses ``attribution.static``, ``none`` publishes no workload. A
  device with no pod is published with ``workload: null`` (allocated to nobody).

Scrape failures (endpoint down, timeout, HTTP error) are logged once per state change, counted,
retried with backoff, and never stop the loop; ``--once`` exits 3 when the scrape fails.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from collectors.attribution import Attributor
from collectors.dcgm.exporter import MIB, DcgmDevice, Scrape, parse_metrics
from spendwatch.events import GPU_SAMPLE, validate
from spendwatch.prices import PriceTable

log = logging.getLogger(__name__)

_MIG_SLICES = re.compile(r"(\d+)g\.")
_RAND = set("bcdfghjklmnpqrstvwxz2456789")  # Kubernetes' generated-name alphabet


@dataclass(frozen=True)
class DcgmConfig:
    """``dcgm`` section."""

    url: str = ""  # e.g. http://nvidia-dcgm-exporter.gpu-operator:9400/metrics
    interval_s: float = 30.0  # dcgm-exporter refreshes every 30 s by default (-c 30000)
    timeout_s: float = 10.0
    node: str = ""  # default: the Hostname label, else $NODE_NAME, else the URL's host
    attribution: str = "labels"  # labels, kube, static, none
    backoff_max_s: float = 300.0
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9403  # the collector's port (spendwatch/metrics_port.py); 0 = no /metrics of its own


class ScrapeError(Exception):
    """The exporter could not be scraped."""


def fetch_metrics(url: str, timeout_s: float) -> str:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 - the URL is a setting
            return bytes(resp.read()).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        raise ScrapeError(f"{url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ScrapeError(f"cannot scrape {url}: {getattr(exc, 'reason', exc)}") from None


def _is_rand(s: str, n: int | None = None) -> bool:
    return bool(s) and (n is None or len(s) == n) and set(s) <= _RAND


def controller_of(pod: str) -> str:
    """The controller name Kubernetes built a pod name from (best effort, no API needed)."""
    parts = pod.split("-")
    if len(parts) >= 3 and _is_rand(parts[-1], 5) and 6 <= len(parts[-2]) <= 10 and _is_rand(parts[-2]):
        return "-".join(parts[:-2])  # Deployment: <name>-<pod-template-hash>-<5>
    if len(parts) >= 2 and _is_rand(parts[-1], 5):
        base = parts[:-1]
        if len(base) >= 2 and base[-1].isdigit() and len(base[-1]) >= 8:
            base = base[:-1]  # CronJob: <name>-<scheduled minute>-<5>
        return "-".join(base)  # Job, DaemonSet, ReplicaSet: <name>-<5>
    if len(parts) >= 2 and parts[-1].isdigit():
        return "-".join(parts[:-1])  # StatefulSet: <name>-<ordinal>
    return pod


class LabelAttributor:
    """``namespace/controller`` from the pod dcgm-exporter labels a device with."""

    def __init__(self) -> None:
        self.pods: dict[str, tuple[str, str, str, int]] = {}  # device id -> (ns, pod, container, n pods)

    def update(self, scrape: Scrape) -> None:
        self.pods = {}
        for d in scrape.devices:
            if d.pods:
                ns, pod, container = sorted(d.pods)[0]
                self.pods[d.mig_uuid or d.gpu_uuid] = (ns, pod, container, len(d.pods))

    def workload_for(self, gpu_uuid: str, mig_uuid: str | None) -> dict[str, Any] | None:
        hit = self.pods.get(mig_uuid or gpu_uuid)
        if hit is None:
            return None
        ns, pod, container, n = hit
        labels = {"pod": pod}
        if container:
            labels["container"] = container
        if n > 1:
            labels["pods_sharing"] = str(n)
        return {"id": f"{ns}/{controller_of(pod)}", "kind": "unknown", "labels": labels}


class ScrapePods:
    """A PodResources source fed from the scrape, for :class:`collectors.kube.attribution.KubeAttributor`."""

    def __init__(self) -> None:
        self.devices: dict[str, tuple[str, str]] = {}

    def update(self, scrape: Scrape) -> None:
        self.devices = {(d.mig_uuid or d.gpu_uuid): sorted(d.pods)[0][:2] for d in scrape.devices if d.pods}

    def list(self) -> dict[str, tuple[str, str]]:
        return dict(self.devices)


class DcgmMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.scrapes = Counter("spendwatch_dcgm_scrapes", "scrapes of dcgm-exporter", ["result"], registry=r)
        self.samples = Counter("spendwatch_dcgm_samples", "gpu_sample events produced", registry=r)
        self.skipped = Counter("spendwatch_dcgm_devices_skipped", "device readings not published", ["reason"],
                               registry=r)
        self.bad_lines = Counter("spendwatch_dcgm_bad_lines", "metric lines the parser rejected", registry=r)
        self.devices = Gauge("spendwatch_dcgm_devices", "GPUs and MIG instances on the last scrape", registry=r)
        self.up = Gauge("spendwatch_dcgm_up", "1 when the last scrape worked", registry=r)


class DcgmCollector:
    """Scrapes one dcgm-exporter every ``interval_s`` and hands each validated event to ``emit``."""

    def __init__(self, url: str, emit: Callable[[dict[str, Any]], None], node: str | None = None,
                 prices: PriceTable | None = None, attributor: Any = None, interval_s: float = 30.0,
                 timeout_s: float = 10.0, backoff_max_s: float = 300.0, clock: Callable[[], float] = time.time,
                 fetch: Callable[[str, float], str] = fetch_metrics, metrics: DcgmMetrics | None = None) -> None:
        self.url, self.emit, self.node = url, emit, node
        self.prices = prices or PriceTable()
        self.attributor = attributor
        self.interval_s, self.timeout_s, self.backoff_max_s = interval_s, timeout_s, backoff_max_s
        self.clock, self.fetch = clock, fetch
        self.metrics = metrics or DcgmMetrics()
        self.failures = 0
        self.last_error: str | None = None
        self.published = 0
        self.skipped: dict[str, int] = {}
        self._warned: set[str] = set()

    def tick(self) -> int:
        """One scrape: publish what it found; returns the number of events (raises ScrapeError)."""
        now = self.clock()
        try:
            text = self.fetch(self.url, self.timeout_s)
        except ScrapeError as exc:
            self.metrics.scrapes.labels(result="error").inc()
            self.metrics.up.set(0)
            self.failures += 1
            if str(exc) != self.last_error:
                log.error("%s; retrying with backoff (the collector keeps running)", exc)
            self.last_error = str(exc)
            raise
        if self.last_error is not None:
            log.warning("dcgm-exporter at %s answering again", self.url)
        self.last_error, self.failures = None, 0
        self.metrics.scrapes.labels(result="ok").inc()
        self.metrics.up.set(1)
        scrape = parse_metrics(text)
        if scrape.bad_lines:
            self.metrics.bad_lines.inc(len(scrape.bad_lines))
            log.warning("%s: %d metric line(s) not parseable, skipped (first: %s)", self.url, len(scrape.bad_lines),
                        scrape.bad_lines[0])
        if hasattr(self.attributor, "update"):
            self.attributor.update(scrape)
        elif hasattr(getattr(self.attributor, "pods", None), "update"):
            self.attributor.pods.update(scrape)
        self.metrics.devices.set(len(scrape.devices))
        n = 0
        for d in sorted(scrape.devices, key=lambda x: (x.gpu_uuid, x.gpu_instance or "")):
            ev = self._event(d, now)
            if ev is not None:
                self.emit(ev)
                n += 1
        self.metrics.samples.inc(n)
        self.published += n
        return n

    def _skip(self, d: DcgmDevice, reason: str) -> None:
        self.metrics.skipped.labels(reason=reason).inc()
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        key = f"{d.mig_uuid or d.gpu_uuid}:{reason}"
        if key not in self._warned:
            self._warned.add(key)
            log.warning("%s: %s not published: %s", self.url, d.mig_uuid or d.gpu_uuid, reason.replace("_", " "))

    def _event(self, d: DcgmDevice, now: float) -> dict[str, Any] | None:
        v = d.values
        sm = v.get("DCGM_FI_PROF_SM_ACTIVE")
        sm_pct = None if sm is None or sm > 1.0 else sm * 100.0
        util, source = v.get("DCGM_FI_DEV_GPU_UTIL"), "dcgm_gpu_util"
        if util is not None and util > 100.0:
            util = None
        if util is None and v.get("DCGM_FI_PROF_GR_ENGINE_ACTIVE") is not None \
                and v["DCGM_FI_PROF_GR_ENGINE_ACTIVE"] <= 1.0:
            util, source = v["DCGM_FI_PROF_GR_ENGINE_ACTIVE"] * 100.0, "dcgm_gr_engine_active"
        if util is None and sm_pct is not None:
            util, source = sm_pct, "dcgm_sm_active"
        if util is None:
            self._skip(d, "no_utilization")
            return None
        used = v.get("DCGM_FI_DEV_FB_USED")
        free = v.get("DCGM_FI_DEV_FB_FREE")
        total_mib = v.get("DCGM_FI_DEV_FB_TOTAL")
        if used is not None and free is not None:
            total_mib = used + free + v.get("DCGM_FI_DEV_FB_RESERVED", 0.0)
        if used is None or total_mib is None:
            self._skip(d, "no_memory")
            return None
        node = self.node or d.hostname or urllib.parse.urlparse(self.url).hostname or "unknown"
        power = v.get("DCGM_FI_DEV_POWER_USAGE") if d.mig_uuid is None else None
        ev: dict[str, Any] = {
            "type": GPU_SAMPLE, "ts": now, "node": node, "gpu_uuid": d.gpu_uuid, "mig_uuid": d.mig_uuid,
            "gpu_model": d.model, "interval_s": self.interval_s,
            "util_gpu_pct": round(min(100.0, max(0.0, util)), 3),
            "sm_active_pct": None if sm_pct is None else round(min(100.0, max(0.0, sm_pct)), 3),
            "mem_used_bytes": int(used * MIB), "mem_total_bytes": int(total_mib * MIB),
            "power_w": None if power is None else round(power, 3),
            "workload": self._workload(d), "price_per_hour_usd": self._price(d),
            "util_source": source, "source": "dcgm-exporter",
        }
        if d.mig_profile:
            ev["mig_profile"] = d.mig_profile
        return validate(ev)

    def _workload(self, d: DcgmDevice) -> dict[str, Any] | None:
        if self.attributor is None:
            return None
        try:
            w: dict[str, Any] | None = self.attributor.workload_for(d.gpu_uuid, d.mig_uuid)
            return w
        except Exception as exc:  # noqa: BLE001 - attribution never stops sampling
            log.warning("attribution failed for %s: %s: %s; publishing without a workload", d.mig_uuid or d.gpu_uuid,
                        type(exc).__name__, exc)
            return None

    def _price(self, d: DcgmDevice) -> float | None:
        price = self.prices.gpu_per_hour(d.model)
        if price <= 0:
            return None
        if d.mig_uuid is not None:
            m = _MIG_SLICES.search(d.mig_profile or "")
            if m:
                slices = 4 if "A30" in (d.model or "").upper() else 7
                price *= min(1.0, int(m.group(1)) / slices)
        return round(price, 6)

    def run(self, stop: threading.Event, once: bool = False) -> None:
        """Scrape every ``interval_s`` until ``stop`` is set (``once``: one scrape, ScrapeError raised)."""
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.tick()
            except ScrapeError:
                if once:
                    raise
                stop.wait(min(self.backoff_max_s, self.interval_s * 2 ** min(self.failures - 1, 10)))
                continue
            if once:
                return
            stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))


def make_attributor(mode: str, settings: Any) -> Attributor | LabelAttributor | None:
    """The attributor for ``dcgm.attribution``."""
    from spendwatch.errors import ConfigError

    if mode == "none":
        return None
    if mode == "labels":
        return LabelAttributor()
    if mode == "static":
        from collectors.attribution import StaticAttributor

        section = dict(settings.section("attribution"))
        return StaticAttributor(section.get("static") or {})
    if mode == "kube":
        from collectors.kube.attribution import KubeAttributionConfig, KubeAttributor, KubernetesClientApi

        kcfg = settings.build(KubeAttributionConfig, "kube")
        kcfg = KubeAttributionConfig(**{**kcfg.__dict__, "list_ttl_s": 0.0})
        try:
            api: Any = KubernetesClientApi()
        except Exception as exc:  # noqa: BLE001 - without the API the pod name still gives namespace/pod
            log.error("Kubernetes API not configured (%s: %s); workloads will be namespace/pod", type(exc).__name__,
                      exc)
            api = None
        return KubeAttributor(ScrapePods(), api, kcfg)
    raise ConfigError(f"dcgm.attribution: expected labels, kube, static or none, got {mode!r}")
