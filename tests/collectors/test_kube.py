"""Kubernetes attribution against a local gRPC server speaking the kubelet PodResources v1 API on a unix socket."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from collectors.attribution import StaticAttributor
from collectors.kube import podresources_pb2 as pb
from collectors.kube import podresources_pb2_grpc as pbg
from collectors.kube.attribution import KubeAttributionConfig, KubeAttributor, ObjectMeta, PodResourcesClient

GPU0, GPU1, GPU2 = "GPU-aaaa", "GPU-bbbb", "GPU-cccc"
MIG = "MIG-1111"


class Lister(pbg.PodResourcesListerServicer):
    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.pods = [
            pb.PodResources(name="trainer-7d9f-abcde", namespace="ml", containers=[
                pb.ContainerResources(name="main", devices=[
                    pb.ContainerDevices(resource_name="nvidia.com/gpu", device_ids=[GPU0, GPU1])])]),
            pb.PodResources(name="nightly-28812345-xyz", namespace="etl", containers=[
                pb.ContainerResources(name="c", devices=[
                    pb.ContainerDevices(resource_name="nvidia.com/mig-1g.10gb", device_ids=[MIG]),
                    pb.ContainerDevices(resource_name="example.com/fpga", device_ids=[GPU2])])]),
        ]

    def List(self, request: pb.ListPodResourcesRequest, context: grpc.ServicerContext) -> pb.ListPodResourcesResponse:
        self.calls += 1
        if self.fail:
            context.abort(grpc.StatusCode.UNAVAILABLE, "kubelet restarting")
        return pb.ListPodResourcesResponse(pod_resources=self.pods)


@pytest.fixture
def kubelet(tmp_path: Path) -> Iterator[tuple[str, Lister]]:
    sock = str(tmp_path / "kubelet.sock")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    lister = Lister()
    pbg.add_PodResourcesListerServicer_to_server(lister, server)
    server.add_insecure_port(f"unix://{sock}")
    server.start()
    yield sock, lister
    server.stop(0)


class FakeApi:
    """A test double of the Kubernetes API: objects by (kind, namespace, name)."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.objs = {
            ("Pod", "ml", "trainer-7d9f-abcde"): ObjectMeta("Pod", "trainer-7d9f-abcde", {"app": "trainer"}, {},
                                                            ("ReplicaSet", "trainer-7d9f")),
            ("ReplicaSet", "ml", "trainer-7d9f"): ObjectMeta("ReplicaSet", "trainer-7d9f", {}, {},
                                                             ("Deployment", "trainer")),
            ("Deployment", "ml", "trainer"): ObjectMeta("Deployment", "trainer", {"team": "ml-platform"},
                                                        {"spendwatch.io/owner": "ana@example.com",
                                                         "spendwatch.io/kind": "training"}),
            ("Pod", "etl", "nightly-28812345-xyz"): ObjectMeta("Pod", "nightly-28812345-xyz", {}, {},
                                                               ("Job", "nightly-28812345")),
            ("Job", "etl", "nightly-28812345"): ObjectMeta("Job", "nightly-28812345", {}, {}, ("CronJob", "nightly")),
            ("CronJob", "etl", "nightly"): ObjectMeta("CronJob", "nightly", {"spendwatch.io/team": "data"}, {}),
        }

    def get(self, kind: str, namespace: str, name: str) -> ObjectMeta | None:
        self.calls += 1
        if self.fail:
            raise ConnectionError("API server unreachable")
        return self.objs.get((kind, namespace, name))


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def test_podresources_list_over_unix_socket(kubelet: tuple[str, Lister]) -> None:
    sock, _ = kubelet
    client = PodResourcesClient(sock, ["nvidia.com/"])
    assert client.list() == {GPU0: ("ml", "trainer-7d9f-abcde"), GPU1: ("ml", "trainer-7d9f-abcde"),
                             MIG: ("etl", "nightly-28812345-xyz")}  # the FPGA is not ours
    client.close()


def test_controller_owner_team_kind_and_cache(kubelet: tuple[str, Lister]) -> None:
    sock, lister = kubelet
    api, clock = FakeApi(), Clock()
    cfg = KubeAttributionConfig(socket=sock)
    attr = KubeAttributor(PodResourcesClient(sock, cfg.resource_prefixes), api, cfg,
                          fallback=StaticAttributor({"*": {"id": "node/unallocated"}}), clock=clock)
    w = attr.workload_for(GPU0, None)
    assert w is not None
    assert (w["id"], w["kind"], w["owner"], w["team"]) == ("ml/trainer", "training", "ana@example.com", "ml-platform")
    assert w["labels"]["controller_kind"] == "Deployment" and w["labels"]["pod"] == "trainer-7d9f-abcde"
    m = attr.workload_for("GPU-parent-of-mig", MIG)
    assert m is not None and (m["id"], m["kind"], m["team"]) == ("etl/nightly", "batch", "data")
    assert attr.workload_for(GPU2, None) == {"id": "node/unallocated", "kind": "unknown"}
    calls = api.calls
    for _ in range(5):
        attr.workload_for(GPU1, None)
    assert api.calls == calls and lister.calls == 1  # cached
    clock.t = 11
    attr.workload_for(GPU0, None)
    assert lister.calls == 2  # device map refreshed after list_ttl_s


def test_kubelet_and_api_failures_degrade_not_fail(kubelet: tuple[str, Lister]) -> None:
    sock, lister = kubelet
    api, clock = FakeApi(), Clock()
    cfg = KubeAttributionConfig(socket=sock)
    attr = KubeAttributor(PodResourcesClient(sock, cfg.resource_prefixes, timeout_s=1), api, cfg, clock=clock)
    api.fail = True
    w = attr.workload_for(GPU0, None)
    assert w == {"id": "ml/trainer-7d9f-abcde", "kind": "unknown"}  # namespace/pod, not cached
    api.fail = False
    assert attr.workload_for(GPU0, None)["id"] == "ml/trainer"
    lister.fail = True
    clock.t = 20
    assert attr.workload_for(GPU0, None)["id"] == "ml/trainer"  # the last device map is kept
    assert lister.calls == 2


def test_no_socket_is_survived(tmp_path: Path) -> None:
    cfg = KubeAttributionConfig(socket=str(tmp_path / "missing.sock"), timeout_s=0.5)
    attr = KubeAttributor(PodResourcesClient(cfg.socket, cfg.resource_prefixes, 0.5), FakeApi(), cfg)
    assert attr.workload_for(GPU0, None) is None
