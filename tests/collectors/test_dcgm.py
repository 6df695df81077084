"""dcgm-exporter collector against a local HTTP server serving pages in dcgm-exporter's own format.

The fixture pages (fixtures/dcgm_metrics_*.txt) are rendered the way dcgm-exporter's template
writes them: ``# HELP``/``# TYPE`` from etc/default-counters.csv and dcp-metrics-included.csv, then
``FIELD{gpu,UUID,pci_bus_id,device,modelName[,GPU_I_PROFILE,GPU_I_ID],Hostname,container,
namespace,pod,DCGM_FI_DRIVER_VERSION} value``, DCGM blank sentinels included.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from collectors.dcgm.collector import DcgmCollector, LabelAttributor, ScrapePods, controller_of, fetch_metrics
from collectors.dcgm.exporter import parse_metrics
from collectors.dcgm.run import DcgmRequest, run_dcgm
from collectors.kube.attribution import KubeAttributionConfig, KubeAttributor, ObjectMeta
from spendwatch.config import Settings
from spendwatch.events import validate
from tests.collectors.httpserve import serve

FIX = Path(__file__).parent / "fixtures"
H100 = (FIX / "dcgm_metrics_h100.txt").read_bytes()
MIG = (FIX / "dcgm_metrics_mig.txt").read_bytes()
GPU0, GPU1, GPU2 = ("GPU-be839661-c0f5-7452-284b-b875666df60c", "GPU-21c6d9d7-46cd-7e91-99c3-7b6a06a3faea",
                    "GPU-5d9cc71f-b438-dc00-707d-c6c12bcfede1")
A100 = "GPU-8c16e996-bd76-aa91-17e7-b48bcd0208ba"


def once(url: str, settings: Settings | None = None) -> tuple[Any, list[dict[str, Any]]]:
    buf = io.BytesIO()
    result = run_dcgm(settings or Settings(), DcgmRequest(url=url, once=True, stdout=True), stdout=buf)
    return result, [validate(orjson.loads(x)) for x in buf.getvalue().splitlines()]


def test_page_to_gpu_samples_with_attribution() -> None:
    with serve(H100) as srv:
        result, evs = once(srv.url + "/metrics")
    assert result.exit_code == 0 and srv.requests == ["/metrics"]
    by = {e["gpu_uuid"]: e for e in evs}
    assert set(by) == {GPU0, GPU1, GPU2}
    busy = by[GPU0]
    assert busy["node"] == "gpu-node-1" and busy["gpu_model"] == "NVIDIA H100 80GB HBM3" and busy["mig_uuid"] is None
    assert busy["util_gpu_pct"] == 93 and busy["sm_active_pct"] == pytest.approx(87.1234, abs=1e-3)
    assert busy["mem_used_bytes"] == 61200 * 2**20 and busy["mem_total_bytes"] == 81559 * 2**20
    assert busy["power_w"] == pytest.approx(612.441) and busy["price_per_hour_usd"] == 3.9
    assert busy["workload"] == {"id": "ml/llm-serve", "kind": "unknown",
                                "labels": {"pod": "llm-serve-7d9f8b6c5d-x2k4q", "container": "vllm"}}
    assert by[GPU1]["workload"]["id"] == "research/notebook-ana"  # StatefulSet pod notebook-ana-0
    assert by[GPU2]["workload"] is None  # no pod: allocated to nobody
    assert all(e["interval_s"] == 30.0 and e["util_source"] == "dcgm_gpu_util" for e in evs)


def test_mig_instances_map_to_a_stable_mig_uuid() -> None:
    with serve(MIG) as srv:
        result, evs = once(srv.url + "/metrics")
    assert [e["mig_uuid"] for e in evs] == [f"MIG-{A100}/1", f"MIG-{A100}/13"]
    big, small = evs
    assert big["gpu_uuid"] == small["gpu_uuid"] == A100 and big["mig_profile"] == "3g.40gb"
    assert big["util_gpu_pct"] == pytest.approx(65.2) and big["util_source"] == "dcgm_gr_engine_active"
    assert big["mem_total_bytes"] == 40192 * 2**20 and big["power_w"] is None  # power is the whole GPU's
    assert big["price_per_hour_usd"] == pytest.approx(2.95 * 3 / 7, abs=1e-6)
    assert small["price_per_hour_usd"] == pytest.approx(2.95 / 7, abs=1e-6)
    assert big["workload"]["id"] == "ml/embed-batch" and small["workload"]["id"] == "ml/triton"  # CronJob, Deployment
    assert result.skipped == {"no_utilization": 1}  # the MIG-enabled parent reports no utilization of its own
    # the same instance keeps its id on every scrape
    assert [d.mig_uuid for d in parse_metrics(MIG.decode()).devices if d.mig_uuid] == [e["mig_uuid"] for e in evs]


def test_bad_lines_blank_values_and_missing_fields_are_counted_not_fatal() -> None:
    page = H100.decode().replace('DCGM_FI_DEV_GPU_UTIL{gpu="2"', 'DCGM_FI_DEV_GPU_UTIL{gpu="2" broken')
    page += "this is not a metric line\n"
    page = page.replace(f'DCGM_FI_DEV_FB_USED{{gpu="1",UUID="{GPU1}"', f'DCGM_FI_DEV_FB_USEDX{{gpu="1",UUID="{GPU1}"')
    scrape = parse_metrics(page)
    assert len(scrape.bad_lines) == 2
    evs: list[dict[str, Any]] = []
    c = DcgmCollector("http://h:9400/metrics", evs.append, attributor=LabelAttributor(), fetch=lambda u, t: page)
    c.tick()
    assert {e["gpu_uuid"] for e in evs} == {GPU0, GPU2}  # GPU 1 lost FB_USED: not published, counted
    assert c.skipped == {"no_memory": 1}
    assert next(e for e in evs if e["gpu_uuid"] == GPU2)["util_source"] == "dcgm_gr_engine_active"  # lost GPU_UTIL
    assert c.metrics.bad_lines._value.get() == 2
    blank = parse_metrics('DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-x"} 9223372036854775794\n'
                          'DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-x"} NaN\n')
    assert blank.devices[0].values == {}  # DCGM's blank and NaN mean "not available", never 0


def test_scrape_failure_once_exits_3_and_the_loop_survives(tmp_path: Path) -> None:
    with serve(b"oops") as srv:
        srv.status = 503
        p = subprocess.run([sys.executable, "-m", "spendwatch.cli", "collect", "dcgm", "--url", srv.url + "/metrics",
                            "--once", "--stdout"], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "SPENDWATCH_STATE_DIR": str(tmp_path)})
    assert p.returncode == 3 and "HTTP 503" in p.stderr and "Traceback" not in p.stderr and p.stdout == ""
    with serve(H100) as srv:
        calls: list[int] = []

        def flaky(url: str, timeout: float) -> str:
            calls.append(1)
            if len(calls) == 1:
                return fetch_metrics("http://127.0.0.1:1/metrics", 1.0)
            return fetch_metrics(url, timeout)

        import threading
        stop = threading.Event()
        evs: list[dict[str, Any]] = []
        c = DcgmCollector(srv.url + "/metrics", lambda e: (evs.append(e), stop.set()), interval_s=0.05,
                          attributor=LabelAttributor(), fetch=flaky)
        c.run(stop)
    assert len(calls) == 2 and evs and c.metrics.scrapes.labels(result="error")._value.get() == 1


def test_controller_names_from_pod_names() -> None:
    assert controller_of("llm-serve-7d9f8b6c5d-x2k4q") == "llm-serve"  # Deployment
    assert controller_of("embed-batch-28812345-x7k2p") == "embed-batch"  # CronJob
    assert controller_of("train-42-8xk2p") == "train-42"  # Job
    assert controller_of("notebook-ana-0") == "notebook-ana"  # StatefulSet
    assert controller_of("standalone") == "standalone"
    assert controller_of("my-app-v2") == "my-app-v2"  # no generated suffix: the pod is its own workload


class OwnerApi:
    """A test double of the Kubernetes API (pod -> ReplicaSet -> Deployment with a team label)."""

    def get(self, kind: str, namespace: str, name: str) -> ObjectMeta | None:
        objs = {("Pod", "ml", "llm-serve-7d9f8b6c5d-x2k4q"): ObjectMeta("Pod", "llm-serve-7d9f8b6c5d-x2k4q",
                                                                          owner=("ReplicaSet", "llm-serve-7d9f8b6c5d")),
                ("ReplicaSet", "ml", "llm-serve-7d9f8b6c5d"): ObjectMeta("ReplicaSet", "llm-serve-7d9f8b6c5d",
                                                                         owner=("Deployment", "llm-serve")),
                ("Deployment", "ml", "llm-serve"): ObjectMeta("Deployment", "llm-serve", labels={"team": "ml-platform"},
                                                              annotations={"spendwatch.io/owner": "ana@example.com"})}
        return objs.get((kind, namespace, name))


def test_kube_attribution_from_the_scraped_pods() -> None:
    att = KubeAttributor(ScrapePods(), OwnerApi(), KubeAttributionConfig(list_ttl_s=0.0))
    evs: list[dict[str, Any]] = []
    DcgmCollector("http://h/metrics", evs.append, attributor=att, fetch=lambda u, t: H100.decode()).tick()
    w = next(e for e in evs if e["gpu_uuid"] == GPU0)["workload"]
    assert w["id"] == "ml/llm-serve" and w["team"] == "ml-platform" and w["owner"] == "ana@example.com"
    assert w["labels"]["controller_kind"] == "Deployment"


def test_end_to_end_into_replay(tmp_path: Path) -> None:
    """Half an hour of scrapes (fake clock, real HTTP) through `spendwatch replay`: the idle notebook GPU
    holding memory and the unallocated GPU are flagged, the busy one is not."""
    t = [1_795_132_800.0]
    evs: list[dict[str, Any]] = []
    with serve(H100) as srv:
        c = DcgmCollector(srv.url + "/metrics", evs.append, attributor=LabelAttributor(), clock=lambda: t[0])
        for _ in range(61):
            c.tick()
            t[0] += 30.0
    path = tmp_path / "samples.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in evs))
    p = subprocess.run([sys.executable, "-m", "spendwatch.cli", "replay", str(path)], capture_output=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    found = {(a["kind"], a["resource"], a["workload"]["id"] if a["workload"] else None)
             for a in map(orjson.loads, p.stdout.splitlines())}
    assert ("gpu_memory_hoarding", GPU1, "research/notebook-ana") in found
    assert any(k == "idle_gpu" and r == GPU2 for k, r, _w in found)
    assert not any(r == GPU0 for _k, r, _w in found)


def test_the_readme_example_output_verbatim() -> None:
    """dcgm-exporter's README example (Kubernetes quickstart), as printed there: the space after the first
    comma, empty pod labels and a blank (9223372036854775794) temperature. It has no utilization
    field, so the GPU is counted as not published instead of being reported idle."""
    page = ("# HELP DCGM_FI_DEV_SM_CLOCK SM clock frequency (in MHz).\n"
            "# TYPE DCGM_FI_DEV_SM_CLOCK gauge\n"
            "# HELP DCGM_FI_DEV_MEM_CLOCK Memory clock frequency (in MHz).\n"
            "# TYPE DCGM_FI_DEV_MEM_CLOCK gauge\n"
            "# HELP DCGM_FI_DEV_MEMORY_TEMP Memory temperature (in C).\n"
            "# TYPE DCGM_FI_DEV_MEMORY_TEMP gauge\n"
            'DCGM_FI_DEV_SM_CLOCK{gpu="0", UUID="GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52",container="",namespace="",'
            'pod=""} 139\n'
            'DCGM_FI_DEV_MEM_CLOCK{gpu="0", UUID="GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52",container="",namespace="",'
            'pod=""} 405\n'
            'DCGM_FI_DEV_MEMORY_TEMP{gpu="0", UUID="GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52",container="",'
            'namespace="",pod=""} 9223372036854775794\n')
    scrape = parse_metrics(page)
    assert scrape.bad_lines == [] and scrape.devices == []  # none of the fields spendwatch reads
    with_util = page + ('DCGM_FI_DEV_GPU_UTIL{gpu="0", UUID="GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52",container="foo",'
                        'namespace="bar",pod="baz"} 0\n'
                        'DCGM_FI_DEV_FB_USED{gpu="0", UUID="GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52",container="foo",'
                        'namespace="bar",pod="baz"} 0\n')
    with serve(with_util.encode()) as srv:
        result, evs = once(srv.url + "/metrics", Settings(sections={"dcgm": {"node": "n1"}}))
    assert evs == [] and result.skipped == {"no_memory": 1}  # FB_FREE missing: no total, not published
    free = ('DCGM_FI_DEV_FB_FREE{gpu="0", UUID="GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52",container="foo",'
            'namespace="bar",pod="baz"} 15000\n')
    with serve((with_util + free).encode()) as srv:
        _r, evs = once(srv.url + "/metrics", Settings(sections={"dcgm": {"node": "n1"}}))
    assert [(e["node"], e["workload"]["id"], e["mem_total_bytes"]) for e in evs] == [("n1", "bar/baz", 15000 * 2**20)]
