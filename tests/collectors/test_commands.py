"""`spendwatch collect gpu`, `collect billing`, `emit` and the client, end to end where it is cheap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from collectors.publisher import StdoutTransport
from spendwatch.cli import main
from spendwatch.client import SpendwatchClient
from spendwatch.errors import BadEvent
from spendwatch.events import decode

FIX = Path(__file__).parent / "fixtures"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "spendwatch.cli", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def test_collect_gpu_simulated_once_stdout() -> None:
    r = run("collect", "gpu", "--backend", "simulated", "--gpus", "3", "--once", "--stdout")
    assert r.returncode == 0, r.stderr
    events = [decode(line) for line in r.stdout.splitlines()]
    assert len(events) == 3 and all(e["type"] == "gpu_sample" for e in events)


def test_collect_gpu_auto_never_falls_back_to_simulated() -> None:
    pytest.importorskip("pynvml")
    from collectors.nvml.pynvml_backend import PynvmlBackend

    try:
        PynvmlBackend().init()
        pytest.skip("real NVML present")
    except Exception:  # noqa: BLE001
        pass
    r = run("collect", "gpu", "--once", "--stdout")
    assert r.returncode == 2 and r.stdout == ""
    assert "--backend simulated" in r.stderr


def test_bad_config_exits_non_zero(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("collector: {interval_sec: 3}\n")
    r = run("collect", "gpu", "--backend", "simulated", "--once", "--stdout", "--config", str(cfg))
    assert r.returncode == 2 and "interval_sec" in r.stderr


def test_collect_billing_focus_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = str(tmp_path / "state.sqlite")
    assert main(["collect", "billing", "focus", str(FIX / "focus_aws.csv"), "--state", state, "--stdout"]) == 0
    first = capsys.readouterr()
    assert len(first.out.splitlines()) == 5  # 4 usage lines and the credit (a signed adjustment)
    assert "5 billing_delta events" in first.err and "recorded in the ledger" in first.err
    assert main(["collect", "billing", "focus", str(FIX / "focus_aws.csv"), "--state", state, "--stdout"]) == 0
    second = capsys.readouterr()
    assert second.out == "" and "0 billing_delta events" in second.err and "already applied" in second.err


def test_emit_commands_stdout(tmp_path: Path) -> None:
    env = {"SPENDWATCH_SPOOL_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    r = run("emit", "training-run", "--run-id", "r1", "--model-id", "churn", "--workload", "ml/churn-train",
            "--status", "succeeded", "--metric", "auc", "0.91", "higher", "--gpu-hours", "3.5", "--stdout", env=env)
    assert r.returncode == 0, r.stderr
    ev = decode(r.stdout)
    assert ev["metric"] == {"name": "auc", "value": 0.91, "higher_is_better": True}
    assert ev["workload"] == {"id": "ml/churn-train", "kind": "training"}
    r = run("emit", "observations", "--model-id", "churn", "--workload", "serving/churn",
            "--values", '{"score": [0.1, 0.7]}', "--stdout", env=env)
    assert r.returncode == 0, r.stderr
    assert decode(r.stdout)["values"] == {"score": [0.1, 0.7]}
    r = run("emit", "observations", "--model-id", "churn", "--workload", "w", "--values", '{"x": ["a"]}',
            "--stdout", env=env)
    assert r.returncode == 2 and "values.x[0]" in r.stderr


def test_client_two_lines(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with out.open("wb") as f, SpendwatchClient(spool_dir=tmp_path, transport=StdoutTransport(f)) as sw:
        sw.training_run("run-1", "m", "ml/train", "started", trigger="drift", ts=1_800_000_000)
        sw.observations("m", {"id": "serving/m", "team": "ml"}, {"p": [1, 2.5]}, ts=1_800_000_001)
        with pytest.raises(BadEvent):
            sw.training_run("run-2", "m", "ml/train", "exploded")
    lines = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert [x["type"] for x in lines] == ["training_run", "model_observation"]


@pytest.mark.kafka
def test_client_to_real_broker(kafka_bootstrap: str, unique: str, tmp_path: Path) -> None:
    from kafka import KafkaConsumer

    from spendwatch.kafka import KafkaConfig

    cfg = KafkaConfig(bootstrap_servers=kafka_bootstrap, topic_prefix=f"c{unique}.")
    with SpendwatchClient(cfg, spool_dir=tmp_path) as sw:
        sw.training_run("run-1", "model-a", "ml/train", "succeeded")
        assert sw.flush(20)
    c = KafkaConsumer(cfg.topic("training_run"), bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                      consumer_timeout_ms=8000, group_id=None)
    got = [m for m in c]
    c.close()
    assert [(m.key, orjson.loads(m.value)["run_id"]) for m in got] == [(b"model-a", "run-1")]


def test_collect_gpu_metrics_show_spool_and_cost(tmp_path: Path) -> None:
    from tests.collectors.scrape import sample_value, scrape_collector

    text = scrape_collector(tmp_path)
    # the publisher's spool depth, drops and broker state are on the collector's own /metrics
    assert sample_value(text, "spendwatch_publisher_spooled") is not None
    assert sample_value(text, "spendwatch_publisher_dropped_total") == 0
    assert (sample_value(text, "spendwatch_publisher_delivered_total") or 0) > 0
    assert (sample_value(text, "spendwatch_collector_gpu_cost_usd_total", team="vision") or 0) > 0
