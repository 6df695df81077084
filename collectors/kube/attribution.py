"""Kubernetes attribution: which pod holds which GPU / MIG instance, and whose workload it is.

1. The kubelet's PodResources API (v1 ``List`` on ``/var/lib/kubelet/pod-resources/kubelet.sock``,
   mounted read-only into the DaemonSet) says which pod's container got which device. With the
   NVIDIA device plugin, ``device_ids`` of ``nvidia.com/gpu`` are GPU UUIDs, and with the ``mig``
   strategy, ``nvidia.com/mig-<profile>`` device ids are MIG UUIDs.
2. The Kubernetes API (official client, in-cluster config; RBAC: get pods, replicasets, jobs)
   gives the pod's owning controller (ReplicaSet → Deployment, Job → CronJob), labels and
   annotations: ``workload.id`` = ``namespace/controller-name``; owner, team, kind from the
   configured keys (annotations first, then labels; pod first, then controller).

Both behind small adapters (:class:`PodResourcesSource`, :class:`KubeApi`), with a cache: the
device map is refreshed every ``list_ttl_s``, a pod's workload kept for ``pod_ttl_s``. When the
kubelet or the API fails, the last answer is kept (or ``namespace/pod`` is used) and the failure
logged; sampling never stops for attribution.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc

from collectors.attribution import Attributor
from collectors.kube import podresources_pb2, podresources_pb2_grpc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KubeAttributionConfig:
    """``kube`` section."""

    socket: str = "/var/lib/kubelet/pod-resources/kubelet.sock"
    resource_prefixes: list[str] = field(default_factory=lambda: ["nvidia.com/"])
    workload_keys: list[str] = field(default_factory=lambda: ["spendwatch.io/workload"])
    owner_keys: list[str] = field(default_factory=lambda: ["spendwatch.io/owner"])
    team_keys: list[str] = field(default_factory=lambda: ["spendwatch.io/team", "team"])
    kind_keys: list[str] = field(default_factory=lambda: ["spendwatch.io/kind"])
    label_keys: list[str] = field(default_factory=list)
    list_ttl_s: float = 10.0
    pod_ttl_s: float = 300.0
    timeout_s: float = 5.0


@dataclass(frozen=True)
class ObjectMeta:
    """What attribution needs of a Kubernetes object."""

    kind: str
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    owner: tuple[str, str] | None = None  # (kind, name) of the controller ownerReference


class PodResourcesSource(Protocol):
    def list(self) -> dict[str, tuple[str, str]]:
        """device id (GPU or MIG UUID) → (namespace, pod name)."""


class KubeApi(Protocol):
    def get(self, kind: str, namespace: str, name: str) -> ObjectMeta | None:
        """The object's metadata, or None when it does not exist (or is not readable)."""


class PodResourcesClient:
    """kubelet PodResources v1 ``List`` over the unix socket."""

    def __init__(self, socket_path: str, resource_prefixes: list[str], timeout_s: float = 5.0) -> None:
        self.socket_path, self.prefixes, self.timeout_s = socket_path, tuple(resource_prefixes), timeout_s
        self._channel = grpc.insecure_channel(f"unix://{socket_path}")
        self._stub = podresources_pb2_grpc.PodResourcesListerStub(self._channel)

    def list(self) -> dict[str, tuple[str, str]]:
        resp = self._stub.List(podresources_pb2.ListPodResourcesRequest(), timeout=self.timeout_s)
        out: dict[str, tuple[str, str]] = {}
        for pod in resp.pod_resources:
            for c in pod.containers:
                for d in c.devices:
                    if d.resource_name.startswith(self.prefixes):
                        for dev_id in d.device_ids:
                            out[dev_id] = (pod.namespace, pod.name)
        return out

    def close(self) -> None:
        self._channel.close()


class KubernetesClientApi:
    """:class:`KubeApi` over the official ``kubernetes`` client (in-cluster config, else kubeconfig)."""

    def __init__(self) -> None:
        from kubernetes import client, config

        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
        self._core = client.CoreV1Api()
        self._apps = client.AppsV1Api()
        self._batch = client.BatchV1Api()
        self._custom = client.CustomObjectsApi()

    def get(self, kind: str, namespace: str, name: str) -> ObjectMeta | None:
        from kubernetes.client.exceptions import ApiException

        readers: dict[str, Callable[[str, str], Any]] = {
            "Pod": self._core.read_namespaced_pod, "ReplicaSet": self._apps.read_namespaced_replica_set,
            "Deployment": self._apps.read_namespaced_deployment,
            "StatefulSet": self._apps.read_namespaced_stateful_set,
            "DaemonSet": self._apps.read_namespaced_daemon_set, "Job": self._batch.read_namespaced_job,
            "CronJob": self._batch.read_namespaced_cron_job}
        reader = readers.get(kind)
        if reader is None:
            return None  # a custom resource (PyTorchJob, Notebook...): its name is enough
        try:
            obj = reader(name, namespace)
        except ApiException as exc:
            if exc.status in (403, 404):
                return None
            raise
        md = obj.metadata
        owner = next(((r.kind, r.name) for r in (md.owner_references or []) if r.controller), None)
        return ObjectMeta(kind, md.name, dict(md.labels or {}), dict(md.annotations or {}), owner)


_TRAINING_KINDS = {"PyTorchJob", "TFJob", "MPIJob", "XGBoostJob", "PaddleJob", "JAXJob", "TrainJob", "RayJob"}
_INFERENCE_KINDS = {"InferenceService", "ServingRuntime", "RayService"}
_KIND_OF = {"Job": "batch", "CronJob": "batch", "Notebook": "notebook",
            **dict.fromkeys(_TRAINING_KINDS, "training"), **dict.fromkeys(_INFERENCE_KINDS, "inference")}


class KubeAttributor(Attributor):
    """Device → pod (PodResources) → controller, owner, team (Kubernetes API), cached."""

    def __init__(self, pods: PodResourcesSource, api: KubeApi | None, config: KubeAttributionConfig,
                 fallback: Attributor | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.pods, self.api, self.cfg, self.fallback, self.clock = pods, api, config, fallback, clock
        self._devices: dict[str, tuple[str, str]] = {}
        self._listed_at: float | None = None
        self._workloads: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self._list_error: str | None = None

    @classmethod
    def from_config(cls, config: KubeAttributionConfig, fallback: Attributor | None = None) -> KubeAttributor:
        api: KubeApi | None
        try:
            api = KubernetesClientApi()
        except Exception as exc:  # noqa: BLE001 - without the API we still know namespace/pod
            log.error("Kubernetes API not configured (%s: %s); workloads will be namespace/pod without owner/team",
                      type(exc).__name__, exc)
            api = None
        return cls(PodResourcesClient(config.socket, config.resource_prefixes, config.timeout_s), api, config,
                   fallback)

    def _refresh(self) -> None:
        now = self.clock()
        if self._listed_at is not None and now - self._listed_at < self.cfg.list_ttl_s:
            return
        self._listed_at = now
        try:
            self._devices = self.pods.list()
        except Exception as exc:  # noqa: BLE001 - grpc errors of every kind: keep the last map
            details = exc.details() if isinstance(exc, grpc.RpcError) and hasattr(exc, "details") else exc
            msg = f"{type(exc).__name__}: {details}"
            if msg != self._list_error:
                log.error("kubelet PodResources List on %s failed (%s); keeping the last device map (%d devices)",
                          self.cfg.socket, msg, len(self._devices))
            self._list_error = msg
            return
        if self._list_error:
            log.warning("kubelet PodResources answering again: %d devices allocated", len(self._devices))
        self._list_error = None

    def workload_for(self, gpu_uuid: str, mig_uuid: str | None) -> dict[str, Any] | None:
        self._refresh()
        pod = (self._devices.get(mig_uuid) if mig_uuid else None) or self._devices.get(gpu_uuid)
        if pod is None:
            return self.fallback.workload_for(gpu_uuid, mig_uuid) if self.fallback else None
        hit = self._workloads.get(pod)
        now = self.clock()
        if hit is not None and now - hit[0] < self.cfg.pod_ttl_s:
            return dict(hit[1])
        w, complete = self._resolve(*pod)
        if complete:
            self._workloads[pod] = (now, w)
        return dict(w)

    def _pick(self, metas: list[ObjectMeta], keys: list[str]) -> str | None:
        for m in metas:
            for k in keys:
                v = m.annotations.get(k) or m.labels.get(k)
                if v:
                    return v
        return None

    def _resolve(self, namespace: str, pod_name: str) -> tuple[dict[str, Any], bool]:
        """(workload, complete): incomplete answers (API failed) are not cached."""
        fallback = {"id": f"{namespace}/{pod_name}", "kind": "unknown"}
        if self.api is None:
            return fallback, True
        try:
            pod = self.api.get("Pod", namespace, pod_name)
            if pod is None:
                return fallback, False
            chain = [pod]
            cur = pod
            for _ in range(3):  # Pod → ReplicaSet → Deployment, Pod → Job → CronJob
                if cur.owner is None:
                    break
                kind, name = cur.owner
                nxt = self.api.get(kind, namespace, name) or ObjectMeta(kind, name)
                chain.append(nxt)
                cur = nxt
        except Exception as exc:  # noqa: BLE001 - API errors must not stop sampling
            log.warning("Kubernetes API lookup of pod %s/%s failed: %s: %s", namespace, pod_name,
                        type(exc).__name__, exc)
            return fallback, False
        top = chain[-1]
        w: dict[str, Any] = {"id": self._pick(chain, self.cfg.workload_keys) or f"{namespace}/{top.name}"}
        kind = self._pick(chain, self.cfg.kind_keys) or next((_KIND_OF[m.kind] for m in reversed(chain)
                                                              if m.kind in _KIND_OF), "unknown")
        w["kind"] = kind
        for field_name, keys in (("owner", self.cfg.owner_keys), ("team", self.cfg.team_keys)):
            v = self._pick(chain, keys)
            if v:
                w[field_name] = v
        labels = {k: v for k in self.cfg.label_keys if (v := self._pick(chain, [k]))}
        labels["controller_kind"] = top.kind
        labels["pod"] = pod_name
        w["labels"] = labels
        return w, True
