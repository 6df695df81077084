"""`spendwatch collect dcgm`: the driver (the CLI only parses flags and prints the result)."""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass, field
from typing import IO

from collectors.dcgm.collector import DcgmCollector, DcgmConfig, DcgmMetrics, ScrapeError, make_attributor
from collectors.publisher import Transport, publisher_from_settings
from spendwatch.config import Settings
from spendwatch.errors import ConfigError
from spendwatch.prices import PriceConfig, PriceTable


@dataclass
class DcgmRequest:
    url: str | None = None
    interval_s: float | None = None
    once: bool = False
    stdout: bool = False
    node: str | None = None
    metrics_port: int | None = None
    metrics_host: str | None = None


@dataclass
class DcgmResult:
    exit_code: int = 0
    published: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def text(self) -> str:
        skipped = ", ".join(f"{k}: {v}" for k, v in sorted(self.skipped.items())) or "none"
        head = f"collect dcgm: {self.published} gpu_sample events; devices not published: {skipped}"
        return f"{head}\ncollect dcgm: error: {self.error}" if self.error else head


def run_dcgm(settings: Settings, req: DcgmRequest, stop: threading.Event | None = None,
             stdout: IO[bytes] | None = None, transport: Transport | None = None) -> DcgmResult:
    cfg = settings.build(DcgmConfig, "dcgm")
    url = req.url or cfg.url
    if not url:
        raise ConfigError("collect dcgm: give --url http://HOST:9400/metrics (or dcgm.url)")
    if "://" not in url:
        url = f"http://{url}"
    interval = req.interval_s if req.interval_s is not None else cfg.interval_s
    if interval <= 0:
        raise ConfigError(f"--interval / dcgm.interval_s must be > 0, got {interval}")
    node = req.node or cfg.node or os.environ.get("NODE_NAME") or None
    metrics = DcgmMetrics()
    publisher = publisher_from_settings(settings, "dcgm", stdout=stdout if req.stdout else None, transport=transport)
    collector = DcgmCollector(url, publisher.publish, node, PriceTable(settings.build(PriceConfig, "prices")),
                              make_attributor(cfg.attribution, settings), interval, cfg.timeout_s, cfg.backoff_max_s,
                              metrics=metrics)
    port = req.metrics_port if req.metrics_port is not None else cfg.metrics_port
    if port and not req.once:
        from spendwatch.metrics_port import serve_prometheus

        serve_prometheus(metrics.registry, port, req.metrics_host or cfg.metrics_host, service="collector",
                         flag="--metrics-port (dcgm.metrics_port)")
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    result = DcgmResult()
    try:
        collector.run(stop, once=req.once)
    except ScrapeError as exc:
        result.exit_code, result.error = 3, str(exc)
    except KeyboardInterrupt:
        pass
    finally:
        delivered = publisher.flush(10.0)
        publisher.close(1.0)
    result.published, result.skipped = collector.published, dict(collector.skipped)
    if not delivered and result.exit_code == 0:
        result.exit_code, result.error = 1, "the broker did not acknowledge everything in time; the rest is spooled"
    return result
