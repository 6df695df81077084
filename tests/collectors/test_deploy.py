"""The Kubernetes manifests: rendered with `kubectl kustomize` where kubectl exists, else read as plain YAML."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

BASE = Path(__file__).resolve().parents[2] / "deploy" / "base"


def render() -> list[dict[str, Any]]:
    if shutil.which("kubectl"):
        out = subprocess.run(["kubectl", "kustomize", str(BASE)], capture_output=True, text=True, timeout=60,
                             check=True).stdout
        return [d for d in yaml.safe_load_all(out) if d]
    kust = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    docs = []
    for res in kust["resources"]:
        docs += [d for d in yaml.safe_load_all((BASE / res).read_text()) if d]
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def test_manifests_render_and_are_well_formed() -> None:
    docs = render()
    for d in docs:
        assert {"apiVersion", "kind", "metadata"} <= set(d), d
    ds = by_kind(docs, "DaemonSet", "spendwatch-collector")
    spec = ds["spec"]["template"]["spec"]
    assert ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items()
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert any(t["key"] == "nvidia.com/gpu" for t in spec["tolerations"])
    assert spec["runtimeClassName"] == "nvidia"
    c = spec["containers"][0]
    assert c["args"][:2] == ["collect", "gpu"] and "simulated" not in c["args"]
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["pod-resources"]["mountPath"] == "/var/lib/kubelet/pod-resources"
    assert mounts["pod-resources"]["readOnly"] is True
    vols = {v["name"]: v for v in spec["volumes"]}
    assert vols["pod-resources"]["hostPath"]["path"] == "/var/lib/kubelet/pod-resources"
    assert "hostPath" in vols["spool"]  # spool survives a collector restart
    assert c["resources"]["limits"]["cpu"] and c["resources"]["limits"]["memory"]
    assert c["ports"][0]["containerPort"] == 9403
    assert "nvidia.com/gpu" not in c["resources"].get("limits", {})  # never takes a GPU from workloads
    assert any(e["name"] == "NODE_NAME" and e["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
               for e in c["env"])
    cfg = by_kind(docs, "ConfigMap", "spendwatch-config")
    assert "collector" in yaml.safe_load(cfg["data"]["spendwatch.yaml"])


def test_rbac_reads_pods_and_owners_only() -> None:
    docs = render()
    role = by_kind(docs, "ClusterRole", "spendwatch-collector")
    verbs = {v for r in role["rules"] for v in r["verbs"]}
    assert verbs <= {"get", "list", "watch"}
    resources = {res for r in role["rules"] for res in r["resources"]}
    assert {"pods", "replicasets", "deployments", "jobs", "cronjobs"} <= resources
    binding = by_kind(docs, "ClusterRoleBinding", "spendwatch-collector")
    assert binding["subjects"][0]["name"] == "spendwatch-collector"
    ds = by_kind(docs, "DaemonSet", "spendwatch-collector")
    assert ds["spec"]["template"]["spec"]["serviceAccountName"] == "spendwatch-collector"
    worker = by_kind(docs, "Deployment", "spendwatch-worker")
    assert worker["spec"]["template"]["spec"]["containers"][0]["args"][0] == "worker"
