"""Run the real GPU collector (simulated backend) as a process and read its `/metrics`."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sample_value(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


def scrape_collector(tmp_path: Path, timeout_s: float = 30.0) -> str:
    """`/metrics` of `spendwatch collect gpu --backend simulated --stdout` once it has published."""
    cfg = tmp_path / "collector.yaml"
    cfg.write_text("collector: {attribution: static}\n"
                   "attribution: {static: {'*': {id: ml/train, team: vision}}}\n"
                   f"publisher: {{spool_dir: {tmp_path / 'spool'}}}\n")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "spendwatch.cli", "collect", "gpu", "--backend", "simulated",
                             "--gpus", "2", "--interval", "0.2", "--metrics-port", str(port), "--stdout",
                             "--config", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    text = ""
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"collector exited {proc.returncode}: {proc.stderr.read().decode()[-2000:]}"
                                     if proc.stderr else f"collector exited {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    text = r.read().decode()
            except OSError:
                time.sleep(0.1)
                continue
            if (sample_value(text, "spendwatch_collector_samples_total") or 0) >= 4 and \
                    (sample_value(text, "spendwatch_publisher_delivered_total") or 0) > 0:
                return text
            time.sleep(0.1)
        raise AssertionError(f"collector on port {port} published nothing in {timeout_s}s; last /metrics:\n{text}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
