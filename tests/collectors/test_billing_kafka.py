"""The billing cases again, on the real topic: what reaches ``spendwatch.billing.deltas`` sums to the true spend.

Each test publishes through the production path (spool + kafka-python producer) to a Tansu broker with
its own topic prefix and reads the topic back from the beginning. The last test runs a real
``spendwatch worker`` over dcgm-exporter samples and OpenCost billing published by the collectors.
"""

from __future__ import annotations

import copy
import gzip
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from collectors.billing.run import BillingRequest, run_billing
from collectors.dcgm.collector import DcgmCollector, LabelAttributor
from collectors.publisher import publisher_from_settings
from spendwatch.config import Settings
from tests.collectors import focusgen
from tests.collectors.httpserve import serve
from tests.streams.kafkatools import Worker, anomalies, read_topic

pytestmark = pytest.mark.kafka
FIX = Path(__file__).parent / "fixtures"


class Topic:
    def __init__(self, bootstrap: str, prefix: str, tmp: Path) -> None:
        self.bootstrap, self.prefix, self.tmp = bootstrap, prefix, tmp

    def settings(self, **billing: Any) -> Settings:
        return Settings(sections={"kafka": {"bootstrap_servers": self.bootstrap, "topic_prefix": self.prefix},
                                  "billing": billing})

    def run(self, files: list[Path], **kw: Any) -> None:
        billing = kw.pop("billing", {})
        req = BillingRequest("focus", [str(f) for f in files], state=str(self.tmp / "state.sqlite"), timeout_s=30,
                             **kw)
        r = run_billing(self.settings(**billing), req)
        assert r.exit_code == 0 and r.report.delivered, r.text()

    def by_workload(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for rec in read_topic(self.bootstrap, self.prefix + "spendwatch.billing.deltas"):
            e = orjson.loads(rec.value)
            assert rec.key.decode() == e["workload"]["id"]  # keyed per the contract
            out[e["workload"]["id"]] = out.get(e["workload"]["id"], Decimal(0)) + Decimal(repr(e["cost_usd"])) \
                + Decimal(repr(e.get("adjustment_usd") or 0))
        return out


@pytest.fixture
def topic(kafka_bootstrap: str, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Topic:
    monkeypatch.setenv("SPENDWATCH_STATE_DIR", str(tmp_path / "state"))
    return Topic(kafka_bootstrap, f"b{unique}.", tmp_path)


def same(a: dict[str, Decimal], b: dict[str, Decimal]) -> bool:
    keys = {k for k, v in a.items() if v} | {k for k, v in b.items() if v}
    return all(abs(a.get(k, Decimal(0)) - b.get(k, Decimal(0))) <= Decimal("1e-9") for k in keys)


def test_copy_gzip_copy_and_rerun_on_the_topic(topic: Topic, tmp_path: Path) -> None:
    data = focusgen.rows()
    path = focusgen.write(tmp_path / "export.csv", data)
    topic.run([path])
    shutil.copy(path, tmp_path / "copy.csv")
    (tmp_path / "export.csv.gz").write_bytes(gzip.compress(path.read_bytes()))
    topic.run([tmp_path / "copy.csv"])
    topic.run([tmp_path / "export.csv.gz"])
    topic.run([path])
    assert same(topic.by_workload(), focusgen.truth(data, by="workload"))


def test_overlap_and_restatement_up_and_down_on_the_topic(topic: Topic, tmp_path: Path) -> None:
    data = focusgen.rows()
    topic.run([focusgen.write(tmp_path / "a.csv", data[:160])])
    topic.run([focusgen.write(tmp_path / "b.csv", data[100:])])
    restated = copy.deepcopy(data)
    usage = [r for r in restated if r["ChargeCategory"] == "Usage" and Decimal(r["EffectiveCost"]) > 0]
    for r in usage[:8]:
        r["EffectiveCost"] = f"{Decimal(r['EffectiveCost']) * 3:.10f}"
    for r in usage[8:16]:
        r["EffectiveCost"] = "0.0000000000"
    topic.run([focusgen.write(tmp_path / "c.csv", restated)])
    assert same(topic.by_workload(), focusgen.truth(restated, by="workload"))


def test_changed_mapping_on_the_topic(topic: Topic, tmp_path: Path) -> None:
    data = focusgen.rows()
    path = focusgen.write(tmp_path / "export.csv", data)
    topic.run([path])
    topic.run([path], billing={"workload_tags": ["team"]})  # noticed, nothing moves
    assert same(topic.by_workload(), focusgen.truth(data, by="workload"))
    topic.run([path], billing={"workload_tags": ["team"]}, reattribute=True)
    assert same(topic.by_workload(), focusgen.truth(data, by="team"))


def test_worker_flags_idle_gpus_from_dcgm_exporter_and_takes_opencost_billing(
        kafka_bootstrap: str, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPENDWATCH_STATE_DIR", str(tmp_path / "state"))
    prefix = f"d{unique}."
    settings = Settings(sections={"kafka": {"bootstrap_servers": kafka_bootstrap, "topic_prefix": prefix}})
    publisher = publisher_from_settings(settings, "dcgm")
    t = [1_795_132_800.0]
    with serve((FIX / "dcgm_metrics_h100.txt").read_bytes()) as srv:
        c = DcgmCollector(srv.url + "/metrics", publisher.publish, attributor=LabelAttributor(), clock=lambda: t[0])
        for _ in range(61):
            c.tick()
            t[0] += 30.0
    assert publisher.flush(30)
    publisher.close()
    with serve((FIX / "opencost_allocation_ns_controller.json").read_bytes(), "application/json") as oc:
        billed = run_billing(settings, BillingRequest("opencost", url=oc.url, state=str(tmp_path / "oc.sqlite")))
    assert billed.exit_code == 0 and billed.report.events > 0
    worker = Worker(kafka_bootstrap, prefix, f"g{unique}", tmp_path, "--exit-when-idle", "3")  # after: no race
    assert worker.wait(180) == 0, worker.log()[-3000:]
    n = 61 * 3 + billed.report.events
    assert f"worker stopped events={n} bad=0" in worker.log()  # every sample and billing row is contract input
    got = {(a["kind"], a["resource"]) for a in anomalies(kafka_bootstrap, prefix)}
    assert ("gpu_memory_hoarding", "GPU-21c6d9d7-46cd-7e91-99c3-7b6a06a3faea") in got
    assert ("idle_gpu", "GPU-5d9cc71f-b438-dc00-707d-c6c12bcfede1") in got
    assert not any(r == "GPU-be839661-c0f5-7452-284b-b875666df60c" for _k, r in got)
