"""One metrics-port scheme: a second process on the same host does not die on "address already in use"."""

from __future__ import annotations

import logging
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter

from spendwatch.metrics_port import DEFAULT_PORTS, choose_port, serve_prometheus

ROOT = Path(__file__).resolve().parents[1]


def _listening() -> socket.socket:
    """A socket that holds a free port on 127.0.0.1, as another process's server would."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return str(r.read().decode())


def test_each_service_has_its_own_default_port() -> None:
    from collectors.dcgm.collector import DcgmConfig
    from collectors.nvml.run import GpuCollectorConfig
    from spendwatch.cli import build_parser
    from streams.settings import WorkerSettings

    alerter = build_parser()._subparsers._group_actions[0].choices["alerter"]  # type: ignore[union-attr]
    alerter_port = next(a.default for a in alerter._actions if "--metrics-port" in a.option_strings)
    assert WorkerSettings().metrics_port == DEFAULT_PORTS["worker"]
    assert alerter_port == DEFAULT_PORTS["alerter"]
    assert GpuCollectorConfig().metrics_port == DcgmConfig().metrics_port == DEFAULT_PORTS["collector"]
    assert len(set(DEFAULT_PORTS.values())) == len(DEFAULT_PORTS)


def test_second_prometheus_server_on_a_taken_port_serves_on_a_free_one(caplog: pytest.LogCaptureFixture) -> None:
    reg1, reg2 = CollectorRegistry(), CollectorRegistry()
    Counter("first_thing", "x", registry=reg1).inc()
    Counter("second_thing", "x", registry=reg2).inc(2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    first = serve_prometheus(reg1, port, "127.0.0.1", service="alerter")
    assert first == port
    with caplog.at_level(logging.WARNING, logger="spendwatch.metrics"):
        second = serve_prometheus(reg2, port, "127.0.0.1", service="alerter")
    assert second not in (0, port)
    assert "first_thing_total 1.0" in _scrape(port)
    assert "second_thing_total 2.0" in _scrape(second)
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert f"127.0.0.1:{port} is already in use" in warning and f":{second} instead" in warning
    assert "--metrics-port" in warning


def test_port_zero_stays_off() -> None:
    assert serve_prometheus(CollectorRegistry(), 0, "127.0.0.1", service="alerter") == 0
    assert choose_port(0, "127.0.0.1", service="worker") == 0


def test_worker_app_takes_a_free_port_when_its_port_is_taken(caplog: pytest.LogCaptureFixture) -> None:
    from spendwatch.kafka import KafkaConfig
    from streams.app import create_app
    from streams.metrics import WorkerMetrics
    from streams.settings import WorkerSettings

    with _listening() as held:
        port = int(held.getsockname()[1])
        with caplog.at_level(logging.WARNING, logger="spendwatch.metrics"):
            app = create_app(WorkerSettings(metrics_port=port, group_id="face2-port"),
                             KafkaConfig(bootstrap_servers="127.0.0.1:1"), WorkerMetrics())
        assert app.conf.web_enabled
        assert app.conf.web_port != port
        assert f"worker: metrics port 127.0.0.1:{port} is already in use" in caplog.text
        assert f":{app.conf.web_port} instead" in caplog.text
    free = choose_port(port, "127.0.0.1", service="worker")  # released: the port itself again
    assert free == port


def test_second_collector_process_on_the_same_port_keeps_running(tmp_path: Path) -> None:
    """Two `spendwatch collect gpu` on one host with the same --metrics-port: the second says so and runs."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"collector: {{attribution: none}}\npublisher: {{spool_dir: {tmp_path / 'spool'}}}\n")
    errlog = tmp_path / "collector.err"
    with _listening() as held, open(errlog, "wb") as errf:
        port = int(held.getsockname()[1])
        proc = subprocess.Popen([sys.executable, "-m", "spendwatch.cli", "collect", "gpu", "--backend", "simulated",
                                 "--gpus", "1", "--interval", "0.2", "--metrics-port", str(port), "--stdout",
                                 "--config", str(cfg)], cwd=ROOT, stdout=subprocess.PIPE, stderr=errf)
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline() for _ in range(3)]  # it samples: three gpu_sample lines
            assert all(b'"gpu_sample"' in line for line in lines), (lines, errlog.read_text())
            err = errlog.read_text()
            m = re.search(rf"metrics port 127\.0\.0\.1:{port} is already in use .* serving /metrics on "
                          rf"127\.0\.0\.1:(\d+) instead; give each process its own --metrics-port", err)
            assert m, err[-2000:]
            other = int(m.group(1))
            assert other != port
            assert "spendwatch_collector_samples_total" in _scrape(other)
            assert proc.poll() is None, "the second collector stopped"
        finally:
            proc.terminate()
            proc.communicate(timeout=20)
    assert "Traceback" not in errlog.read_text()


def test_the_gpu_collector_binds_metrics_where_metrics_host_says(tmp_path: Path) -> None:
    """`collect gpu --metrics-host ADDR`: /metrics on that address (127.0.0.2 is loopback too), not on 127.0.0.1."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"collector: {{attribution: none}}\npublisher: {{spool_dir: {tmp_path / 'spool'}}}\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.2", 0))
        port = int(probe.getsockname()[1])
    errlog = tmp_path / "collector.err"
    with open(errlog, "wb") as errf:
        proc = subprocess.Popen([sys.executable, "-m", "spendwatch.cli", "collect", "gpu", "--backend", "simulated",
                                 "--gpus", "1", "--interval", "0.2", "--metrics-port", str(port), "--metrics-host",
                                 "127.0.0.2", "--stdout", "--config", str(cfg)], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=errf)
        try:
            assert proc.stdout is not None
            assert b'"gpu_sample"' in proc.stdout.readline(), errlog.read_text()
            with urllib.request.urlopen(f"http://127.0.0.2:{port}/metrics", timeout=5) as r:
                assert b"spendwatch_collector_samples_total" in r.read()
            with pytest.raises(OSError):
                _scrape(port)  # nothing listens on 127.0.0.1
        finally:
            proc.terminate()
            proc.communicate(timeout=20)
