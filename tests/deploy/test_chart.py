"""The Helm chart, linted and rendered by a pinned helm with several value sets.

Every rendered manifest must parse and carry what Kubernetes and the services need; images, ports,
commands and settings are checked against the Dockerfile and the services' own code (the real CLI
parser, the real settings dataclasses), never against copies of their values.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shlex
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.tools import CHART, KUBE_VERSION, ROOT, helm, kube_decode, template, value_args

pytestmark = pytest.mark.helm

VALUE_SETS: dict[str, list[Path]] = {
    "defaults": [],
    "readme-minimal": [ROOT / "examples" / "helm" / "minimal-values.yaml"],
    "all-on": [CHART / "ci" / "all-on-values.yaml"],
    "dcgm": [CHART / "ci" / "dcgm-values.yaml"],
    "external-pg-kafka-sasl": [CHART / "ci" / "external-values.yaml"],
}
WORKLOADS = ("DaemonSet", "Deployment", "CronJob")
CHART_META = yaml.safe_load((CHART / "Chart.yaml").read_text())
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())


def values_of(name: str) -> dict[str, Any]:
    """The chart's values merged with a set's files (enough of helm's merge for these checks)."""
    def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        out = dict(a)
        for k, v in b.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        return out
    merged = VALUES
    for f in VALUE_SETS[name]:
        merged = merge(merged, yaml.safe_load(f.read_text()) or {})
    return merged


_RENDERED: dict[str, tuple[str, list[dict[str, Any]]]] = {}


def rendered(name: str) -> tuple[str, list[dict[str, Any]]]:
    if name not in _RENDERED:
        _RENDERED[name] = template(VALUE_SETS[name])
    return _RENDERED[name]


def docs_of(name: str) -> list[dict[str, Any]]:
    return rendered(name)[1]


def find(docs: list[dict[str, Any]], kind: str, component: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind
            and d["metadata"]["labels"].get("app.kubernetes.io/component") == component]


def one(docs: list[dict[str, Any]], kind: str, component: str) -> dict[str, Any]:
    found = find(docs, kind, component)
    assert len(found) == 1, f"expected one {kind} for {component}, got {[d['metadata']['name'] for d in found]}"
    return found[0]


def pod_template(d: dict[str, Any]) -> dict[str, Any]:
    if d["kind"] == "CronJob":
        return dict(d["spec"]["jobTemplate"]["spec"]["template"])
    return dict(d["spec"]["template"])


def containers(d: dict[str, Any]) -> list[dict[str, Any]]:
    return list(pod_template(d)["spec"]["containers"])


def env_of(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in c.get("env", [])}


def cli_args(c: dict[str, Any]) -> list[str]:
    """The spendwatch arguments a container runs (the image's ENTRYPOINT is `spendwatch`)."""
    if c.get("command"):
        assert c["command"] == ["/bin/sh", "-c"], c["command"]
        script = c["args"][0]
        assert script.startswith("exec spendwatch "), script
        return shlex.split(script)[2:]
    return list(c["args"])


def parse_cli(args: list[str]) -> argparse.Namespace | str:
    """Parse with the real `spendwatch` parser; a command this checkout lacks gives a string saying so."""
    from spendwatch.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if args[0] not in sub.choices:
        return f"`spendwatch {args[0]}` is not a command"
    if args[0] == "collect":
        collect = next(a for a in sub.choices["collect"]._actions if isinstance(a, argparse._SubParsersAction))
        if args[1] not in collect.choices:
            return f"`spendwatch collect {args[1]}` is not a command"
        if args[1] == "billing":
            billing = next(a for a in collect.choices["billing"]._actions
                           if isinstance(a, argparse._SubParsersAction))
            if args[2] not in billing.choices:
                return f"`spendwatch collect billing {args[2]}` is not a command"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            return parser.parse_args(args)
        except SystemExit:
            raise AssertionError(f"spendwatch refuses {args}: {err.getvalue()}") from None


# --- lint and render -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_lint_and_template(name: str, summary: list[str]) -> None:
    lint = helm("lint", str(CHART), "--strict", "--kube-version", KUBE_VERSION, *value_args(VALUE_SETS[name]))
    assert "1 chart(s) linted, 0 chart(s) failed" in lint.stdout, lint.stdout
    text, docs = rendered(name)
    assert docs and text.count("\nkind: ") + text.startswith("kind: ") >= len(docs)
    names: set[tuple[str, str]] = set()
    for d in docs:
        assert {"apiVersion", "kind", "metadata"} <= set(d), d
        meta = d["metadata"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", meta["name"]) and len(meta["name"]) <= 63, meta["name"]
        assert (d["kind"], meta["name"]) not in names, f"two {d['kind']} named {meta['name']}"
        names.add((d["kind"], meta["name"]))
        labels = meta["labels"]
        assert labels["app.kubernetes.io/instance"] == "sw" and labels["app.kubernetes.io/part-of"] == "spendwatch"
        assert d["kind"] != "Secret", "the chart must never create a Secret (credentials are referenced by name)"
    decoded = kube_decode(text)  # the API's own Go types, strictly: no unknown field, no wrong type
    assert [(r["kind"], r["name"]) for r in decoded] == [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert not [r for r in decoded if r.get("error")], [r for r in decoded if r.get("error")]
    kinds = Counter(d["kind"] for d in docs)
    summary.append(f"{name:<24} lint: {lint.stdout.strip().splitlines()[-1]}; template: {len(docs)} objects ("
                   + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
                   + "); every object decodes strictly into its Kubernetes API type")


@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_workloads_are_complete_and_locked_down(name: str, summary: list[str]) -> None:
    docs = docs_of(name)
    vals = values_of(name)
    image = f"{vals['image']['repository']}:{CHART_META['appVersion']}"
    configmaps = {d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"}
    pvcs = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    sas = {d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"}
    workloads = [d for d in docs if d["kind"] in WORKLOADS]
    assert workloads
    for d in workloads:
        where = f"{name}: {d['kind']} {d['metadata']['name']}"
        pod = pod_template(d)
        spec = pod["spec"]
        if d["kind"] != "CronJob":
            assert d["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items(), where
        assert spec["serviceAccountName"] in sas, where
        vols = {v["name"]: v for v in spec["volumes"]}
        for v in vols.values():
            if "configMap" in v:
                assert v["configMap"]["name"] in configmaps, where
            if "persistentVolumeClaim" in v and v["name"] in ("history", "state"):
                assert v["persistentVolumeClaim"]["claimName"] in pvcs, where
        psc = spec["securityContext"]
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for c in containers(d):
            cw = f"{where} container {c['name']}"
            assert c["image"] == image, cw
            res = c["resources"]
            assert {"cpu", "memory"} <= set(res["requests"]) and {"cpu", "memory"} <= set(res["limits"]), cw
            assert not any("nvidia.com/gpu" in k for k in res["limits"]), f"{cw} must never take a GPU"
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, cw
            assert sc["capabilities"] == {"drop": ["ALL"]} and not sc.get("privileged"), cw
            uid = sc.get("runAsUser", psc.get("runAsUser"))
            if uid == 0:  # only the collector, and only for the root-owned host paths it mounts
                assert c["name"] == "collector" and any("hostPath" in v for v in vols.values()), cw
            else:
                assert psc["runAsNonRoot"] is True and uid == 10001, cw
            mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
            assert {m["name"] for m in mounts.values()} <= set(vols), cw
            assert "/tmp" in mounts and "emptyDir" in vols[mounts["/tmp"]["name"]], f"{cw}: a writable /tmp"
            assert mounts["/etc/spendwatch"]["readOnly"] is True, cw
            args = cli_args(c)
            assert args[args.index("--config") + 1] == "/etc/spendwatch/settings.yaml", cw
            parsed = parse_cli(args)
            assert not isinstance(parsed, str), f"{cw}: {parsed}"  # every command the chart runs exists
            for port in c.get("ports", []):
                assert port["name"] and 0 < port["containerPort"] < 65536, cw
            for probe in ("readinessProbe", "livenessProbe"):
                if probe in c:
                    assert c[probe]["httpGet"]["port"] in {p["name"] for p in c["ports"]}, cw
            if d["kind"] != "CronJob":
                assert "readinessProbe" in c and "livenessProbe" in c, cw


@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_services_select_pods_and_ports(name: str) -> None:
    docs = docs_of(name)
    pods = [pod_template(d) for d in docs if d["kind"] in ("DaemonSet", "Deployment")]
    for svc in (d for d in docs if d["kind"] == "Service"):
        sel = svc["spec"]["selector"]
        matching = [p for p in pods if sel.items() <= p["metadata"]["labels"].items()]
        assert len(matching) == 1, f"Service {svc['metadata']['name']} selects {len(matching)} pod templates"
        port_names = {p["name"] for c in matching[0]["spec"]["containers"] for p in c.get("ports", [])}
        for p in svc["spec"]["ports"]:
            assert p["targetPort"] in port_names, (svc["metadata"]["name"], p)
    for sm in (d for d in docs if d["kind"] == "ServiceMonitor"):
        sel = sm["spec"]["selector"]["matchLabels"]
        svcs = [s for s in docs if s["kind"] == "Service" and sel.items() <= s["metadata"]["labels"].items()]
        assert len(svcs) == 1, sm["metadata"]["name"]
        assert sm["spec"]["namespaceSelector"] == {"matchNames": ["spendwatch"]}
        assert {e["port"] for e in sm["spec"]["endpoints"]} <= {p["name"] for p in svcs[0]["spec"]["ports"]}


# --- images and ports agree with the Dockerfile and the services -----------------------------------

def dockerfile() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.setdefault(word.upper(), []).append(rest.strip())
    return out


def service_default_ports() -> dict[str, int]:
    """Each service's default metrics/HTTP port, read from its own code."""
    from collectors.nvml.collector import CollectorMetrics  # noqa: F401 - the collector module exists
    from collectors.nvml.run import GpuCollectorConfig
    from spendwatch.cli import build_parser
    from streams.settings import WorkerSettings

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    alerter = next(a for a in sub.choices["alerter"]._actions if "--metrics-port" in a.option_strings)
    ports = {"collector": GpuCollectorConfig().metrics_port, "worker": WorkerSettings().metrics_port,
             "alerter": int(alerter.default)}
    serve = next(a for a in sub.choices["serve"]._actions if "--port" in a.option_strings)
    ports["api"] = int(serve.default)
    return ports


def test_ports_and_image_agree_with_dockerfile_and_services() -> None:
    docs = docs_of("all-on")
    ports = service_default_ports()
    df = dockerfile()
    exposed = {int(p) for line in df["EXPOSE"] for p in line.split()}
    assert exposed == set(ports.values()), (exposed, ports)
    assert json.loads(df["ENTRYPOINT"][-1]) == ["spendwatch"]
    assert df["USER"][-1].split(":")[0] == str(VALUES["podSecurityContext"]["runAsUser"])
    chart_ports = {"collector": VALUES["collector"]["metricsPort"], "worker": VALUES["worker"]["metricsPort"],
                   "alerter": VALUES["alerter"]["metricsPort"], "api": VALUES["api"]["port"]}
    assert chart_ports == ports
    for component, port in ports.items():
        owners = find(docs, "DaemonSet", component) + find(docs, "Deployment", component)
        if component == "api":  # SQLite: the API container lives in the alerter's pod
            owners = find(docs, "Deployment", "alerter")
        cs = [c for d in owners for c in containers(d) if c["name"] == component]
        assert len(cs) == 1 and [p["containerPort"] for p in cs[0]["ports"]] == [port], component
        args = cli_args(cs[0])
        flag = "--port" if component == "api" else "--metrics-port"
        assert args[args.index(flag) + 1] == str(port), component
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert CHART_META["appVersion"] == project["version"], "the image tag the chart uses is the package version"


# --- secrets ---------------------------------------------------------------------------------------

SECRET_ENV = re.compile(r"(PASSWORD|TOKEN|SECRET|_DB$)")


@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_no_secret_value_in_rendered_output(name: str) -> None:
    text, docs = rendered(name)
    vals = values_of(name)
    named = {vals["kafka"]["sasl"]["existingSecret"], vals["kafka"]["tls"]["existingSecret"],
             vals["database"]["existingSecret"], vals["slack"]["existingSecret"],
             vals["api"]["tokenSecret"]["name"]} - {""}
    referenced: set[str] = set()
    for d in (d for d in docs if d["kind"] in WORKLOADS):
        spec = pod_template(d)["spec"]
        referenced |= {v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
        for c in spec["containers"]:
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    referenced.add(ref["name"])
                elif SECRET_ENV.search(e["name"]) and not e["name"].endswith("_FILE"):
                    # a literal value is allowed only where it holds no credential: the SQLite path
                    assert e["name"] == "SPENDWATCH_DB" and e["value"].startswith("sqlite:///"), (name, e)
            assert not c.get("envFrom"), "envFrom would hide which keys a container reads"
    assert referenced == named, f"{name}: Secrets referenced {sorted(referenced)} != named in values {sorted(named)}"
    assert not re.search(r"postgres(ql)?://[^\s\"']*:[^\s\"'@]*@", text), "a database password in the output"
    assert not re.search(r"xox[abp]-", text), "a Slack token in the output"


def test_strict_decoding_catches_a_misspelt_field() -> None:
    """The check itself: a field the API does not know is reported with its path."""
    text, _docs = rendered("defaults")
    bad = text.replace("readOnlyRootFilesystem: true", "readOnlyRootFilesytem: true", 1)
    errors = [r["error"] for r in kube_decode(bad) if r.get("error")]
    assert len(errors) == 1 and "unknown field" in errors[0] and "readOnlyRootFilesytem" in errors[0], errors


def test_credentials_in_settings_are_refused() -> None:
    r = helm("template", "sw", str(CHART), "--kube-version", KUBE_VERSION, "--set",
             "settings.kafka.sasl_password=hunter2-sentinel", check=False)
    assert r.returncode != 0 and "settings.kafka.sasl_password" in r.stderr and "Secret" in r.stderr
    assert "hunter2-sentinel" not in r.stderr + r.stdout


# --- values.schema.json and the cross-field checks -------------------------------------------------

@pytest.mark.parametrize(("sets", "message"), [
    (["collector.mode=gpu"], "/collector/mode"),
    (["kafka.securityProtocol=SASL_SSL"], "/kafka/sasl/existingSecret"),
    (["kafka.securityProtocol=TLS"], "/kafka/securityProtocol"),
    (["workr.replicas=2"], "additional properties 'workr' not allowed"),
    (["worker.metricsPort=70000"], "/worker/metricsPort"),
    (["worker.replicas=-1"], "/worker/replicas"),
    (["settings.idel.dwell_s=60"], "additional properties 'idel' not allowed"),
    (["billing.enabled=true", "billing.jobs[0].name=aws", "billing.jobs[0].kind=focus",
      "billing.jobs[0].schedule=0 * * * *"], "/billing/jobs/0"),
    (["billing.jobs[0].name=Bad_Name", "billing.jobs[0].kind=focus", "billing.jobs[0].schedule=0 * * * *",
      "billing.jobs[0].files[0]=/x.csv"], "/billing/jobs/0/name"),
    (["billing.jobs[0].name=a", "billing.jobs[0].kind=focus", "billing.jobs[0].schedule=0 * * * *",
      "billing.jobs[0].files[0]=/x.csv;rm -rf /"], "/billing/jobs/0/files/0"),
    (["worker.replicas=9", "worker.partitions=8"], "worker.replicas (9) exceeds worker.partitions (8)"),
    (["fullnameOverride=a-rather-long-name-for-a-spendwatch-release", "billing.enabled=true",
      "billing.jobs[0].name=litellm-prod", "billing.jobs[0].kind=litellm", "billing.jobs[0].schedule=0 * * * *",
      "billing.jobs[0].files[0]=/x.json"], "Kubernetes allows 52 for a CronJob"),
    (["api.ingress.enabled=true"], "api.ingress.enabled needs api.enabled"),
])
def test_bad_values_fail_at_install_time_with_a_clear_message(sets: list[str], message: str) -> None:
    r = helm("template", "sw", str(CHART), "--kube-version", KUBE_VERSION, *value_args([], sets), check=False)
    assert r.returncode != 0, f"{sets} rendered"
    assert message in r.stderr, r.stderr


def test_duplicate_billing_job_names_are_refused() -> None:
    job = ["kind=litellm", "schedule=0 * * * *", "files[0]=/x.json"]
    sets = ["billing.enabled=true"] + [f"billing.jobs[{i}].{kv}" for i in (0, 1) for kv in ["name=llm", *job]]
    r = helm("template", "sw", str(CHART), "--kube-version", KUBE_VERSION, *value_args([], sets), check=False)
    assert r.returncode != 0 and 'the name "llm" is used twice' in r.stderr, r.stderr


# --- the settings ConfigMap is read by the real settings code --------------------------------------

@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_settings_configmap_builds_every_section(name: str, tmp_path: Path) -> None:
    from alerting.pipeline import AlertingConfig
    from collectors.billing.focus import BillingConfig
    from collectors.billing.llm_usage import LlmUsageConfig
    from collectors.kube.attribution import KubeAttributionConfig
    from collectors.nvml.run import GpuCollectorConfig, build_static
    from collectors.publisher import PublisherConfig
    from detectors.engine import Engine
    from spendwatch.config import load_settings
    from spendwatch.kafka import KafkaConfig
    from streams.settings import WorkerSettings

    cm = one(docs_of(name), "ConfigMap", "config")
    path = tmp_path / "settings.yaml"
    path.write_text(cm["data"]["settings.yaml"])
    settings = load_settings(path, environ={})
    assert dict(settings.sections) == (values_of(name)["settings"] or {})
    Engine(settings)  # every detector's section, the engine's and the prices
    for cls, section in ((AlertingConfig, "alerting"), (BillingConfig, "billing"), (LlmUsageConfig, "llm_usage"),
                         (KubeAttributionConfig, "kube"), (PublisherConfig, "publisher"),
                         (GpuCollectorConfig, "collector"), (WorkerSettings, "worker"), (KafkaConfig, "kafka")):
        settings.build(cls, section)
    build_static(dict(settings.section("attribution")))


# --- the parts -------------------------------------------------------------------------------------

def test_gpu_collector_nvml_daemonset() -> None:
    from collectors.kube.attribution import KubeAttributionConfig

    ds = one(docs_of("defaults"), "DaemonSet", "collector")
    spec = ds["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    assert spec["runtimeClassName"] == "nvidia"
    (c,) = spec["containers"]
    assert cli_args(c)[:4] == ["collect", "gpu", "--backend", "nvml"]
    env = env_of(c)
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert env["NVIDIA_VISIBLE_DEVICES"]["value"] == "all"
    assert env["SPENDWATCH__COLLECTOR__METRICS_HOST"]["value"] == "0.0.0.0"  # reachable by Prometheus
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in spec["volumes"]}
    socket_dir = str(Path(KubeAttributionConfig().socket).parent)
    assert mounts["pod-resources"] == {"name": "pod-resources", "mountPath": socket_dir, "readOnly": True}
    assert vols["pod-resources"]["hostPath"] == {"path": "/var/lib/kubelet/pod-resources", "type": "Directory"}
    assert env["SPENDWATCH_SPOOL_DIR"]["value"] == mounts["spool"]["mountPath"]
    assert vols["spool"]["hostPath"]["path"] == "/var/lib/spendwatch/spendwatch-sw-spendwatch"
    # root-owned host paths: uid 0, but no capability, no escalation, read-only root
    assert spec["securityContext"]["runAsUser"] == 0 and c["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_gpu_collector_dcgm_mode_scrapes_the_nodes_exporter() -> None:
    ds = one(docs_of("dcgm"), "DaemonSet", "collector")
    spec = ds["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    args = cli_args(c)
    assert args[:4] == ["collect", "dcgm", "--url", "http://$(NODE_IP):9400/metrics"]
    env = env_of(c)
    # Kubernetes expands $(NODE_IP) in args because NODE_IP is defined in the container's env
    assert env["NODE_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP"
    assert "NVIDIA_VISIBLE_DEVICES" not in env and "runtimeClassName" not in spec
    assert not any("hostPath" in v for v in spec["volumes"]), "dcgm mode needs no host path"
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == 10001
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}  # still on the GPU nodes
    rules = one(docs_of("dcgm"), "PrometheusRule", "rules")
    alerts = {r["alert"] for g in rules["spec"]["groups"] for r in g["rules"]}
    assert "SpendwatchCollectorNvmlDown" not in alerts and "SpendwatchCollectorSpoolBacklog" in alerts


def test_dcgm_node_local_service_reaches_each_nodes_exporter() -> None:
    _text, docs = template(VALUE_SETS["dcgm"], ["collector.dcgm.nodeLocalService.enabled=true"])
    svc = one(docs, "Service", "dcgm-local")
    assert svc["metadata"]["namespace"] == "gpu-operator" and svc["spec"]["internalTrafficPolicy"] == "Local"
    assert svc["spec"]["selector"] == {"app": "nvidia-dcgm-exporter"}
    args = cli_args(containers(one(docs, "DaemonSet", "collector"))[0])
    port = svc["spec"]["ports"][0]["port"]
    assert args[args.index("--url") + 1] == f"http://{svc['metadata']['name']}.gpu-operator.svc:{port}/metrics"


@pytest.mark.parametrize("name", ["defaults", "external-pg-kafka-sasl"])
def test_worker_replicas_partitions_and_disruption_budget(name: str) -> None:
    docs = docs_of(name)
    dep = one(docs, "Deployment", "worker")
    args = cli_args(containers(dep)[0])
    partitions = int(args[args.index("--partitions") + 1])
    assert 1 <= dep["spec"]["replicas"] <= partitions
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 0  # never more workers than partitions
    assert args[args.index("--metrics-host") + 1] == "0.0.0.0"
    grace = dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= 30  # the final snapshot, flush and commit
    pdb = one(docs, "PodDisruptionBudget", "worker")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]


def test_rbac_is_read_only_and_only_the_collector_has_a_token() -> None:
    docs = docs_of("all-on")
    role = one(docs, "ClusterRole", "collector")
    assert {v for r in role["rules"] for v in r["verbs"]} <= {"get", "list", "watch"}
    assert {"pods", "replicasets", "deployments", "jobs", "cronjobs"} <= {x for r in role["rules"]
                                                                           for x in r["resources"]}
    binding = one(docs, "ClusterRoleBinding", "collector")
    ds = one(docs, "DaemonSet", "collector")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "namespace": "spendwatch",
                                    "name": ds["spec"]["template"]["spec"]["serviceAccountName"]}]
    tokens = {d["metadata"]["name"]: d["automountServiceAccountToken"] for d in docs if d["kind"] == "ServiceAccount"}
    assert tokens == {"sw-spendwatch-collector": True, "sw-spendwatch-worker": False,
                      "sw-spendwatch-alerter": False, "sw-spendwatch-billing": False}


def test_sqlite_history_puts_the_api_in_the_alerters_pod() -> None:
    docs = docs_of("all-on")
    alerter = one(docs, "Deployment", "alerter")
    assert alerter["spec"]["replicas"] == 1 and alerter["spec"]["strategy"]["type"] == "Recreate"
    by_name = {c["name"]: c for c in containers(alerter)}
    assert set(by_name) == {"alerter", "api"}
    for c in by_name.values():
        assert env_of(c)["SPENDWATCH_DB"]["value"] == "sqlite:////var/lib/spendwatch/history/history.db"
        assert any(m["name"] == "history" and m["mountPath"] == "/var/lib/spendwatch/history"
                   for m in c["volumeMounts"])
    assert env_of(by_name["api"])["SPENDWATCH_API_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "spendwatch-api", "key": "token"}
    assert env_of(by_name["alerter"])["SPENDWATCH_SLACK_TOKEN_FILE"]["value"] == \
        "/var/run/secrets/spendwatch/slack/token"
    pvc = one(docs, "PersistentVolumeClaim", "history")
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert not find(docs, "Deployment", "api")
    ingress = one(docs, "Ingress", "api")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": one(docs, "Service", "api")["metadata"]["name"], "port": {"name": "http"}}


def test_external_postgres_and_kafka_sasl() -> None:
    docs = docs_of("external-pg-kafka-sasl")
    assert not find(docs, "PersistentVolumeClaim", "history")
    api = one(docs, "Deployment", "api")
    assert api["spec"]["replicas"] == 2
    for d in (api, one(docs, "Deployment", "alerter")):
        db = env_of(containers(d)[0])["SPENDWATCH_DB"]
        assert db["valueFrom"]["secretKeyRef"] == {"name": "spendwatch-db", "key": "url"}
    for d in (d for d in docs if d["kind"] in WORKLOADS):
        for c in containers(d):
            env = env_of(c)
            assert env["SPENDWATCH_KAFKA"]["value"] == "b-1.msk.example:9096,b-2.msk.example:9096"
            assert env["SPENDWATCH_TOPIC_PREFIX"]["value"] == "prod."
            assert env["SPENDWATCH_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
            assert env["SPENDWATCH_KAFKA_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
            assert env["SPENDWATCH_KAFKA_SASL_USERNAME"]["valueFrom"]["secretKeyRef"] == {
                "name": "spendwatch-kafka", "key": "username"}
            pw = env["SPENDWATCH_KAFKA_SASL_PASSWORD_FILE"]["value"]
            ca = env["SPENDWATCH_KAFKA_SSL_CAFILE"]["value"]
            mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
            assert mounts[str(Path(pw).parent)]["readOnly"] and mounts[str(Path(ca).parent)]["readOnly"]
    # the same variables reach the real Kafka settings code as a working SASL_SSL configuration
    from spendwatch.kafka import kafka_config

    c = containers(one(docs, "Deployment", "worker"))[0]
    plain = {k: v["value"] for k, v in env_of(c).items() if "value" in v}
    plain["SPENDWATCH_KAFKA_SASL_USERNAME"] = "spendwatch"
    plain.pop("SPENDWATCH_KAFKA_SSL_CAFILE")  # a path inside the pod; the file check is the pod's
    plain.pop("SPENDWATCH_KAFKA_SASL_PASSWORD_FILE")
    cfg = kafka_config(environ={**plain, "SPENDWATCH_KAFKA_SASL_PASSWORD": "x"})
    assert (cfg.security_protocol, cfg.sasl_mechanism, cfg.topic_prefix) == ("SASL_SSL", "SCRAM-SHA-512", "prod.")


def test_billing_cronjobs_keep_a_ledger_each() -> None:
    docs = docs_of("all-on")
    jobs = {d["metadata"]["labels"]["spendwatch.io/billing-job"]: d for d in docs if d["kind"] == "CronJob"}
    assert set(jobs) == {"aws-focus", "openai", "litellm", "opencost"}
    claims = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    for job, cron in jobs.items():
        assert cron["spec"]["concurrencyPolicy"] == "Forbid"
        spec = pod_template(cron)["spec"]
        assert spec["restartPolicy"] == "Never"
        state = next(v for v in spec["volumes"] if v["name"] == "state")
        assert state["persistentVolumeClaim"]["claimName"] in claims
        (c,) = spec["containers"]
        args = cli_args(c)
        assert args[:3] == ["collect", "billing", cron["metadata"]["name"].rsplit("-", 1)[-1]
                            if job != "aws-focus" else "focus"]
        if job != "opencost":
            assert args[args.index("--state") + 1] == f"/var/lib/spendwatch/state/{job}.sqlite"
        env = env_of(c)
        assert env["SPENDWATCH_SPOOL_DIR"]["value"].startswith("/var/lib/spendwatch/")
    focus = cli_args(containers(jobs["aws-focus"])[0])
    parsed = parse_cli(focus)
    assert isinstance(parsed, argparse.Namespace)
    assert parsed.files == ["/exports/aws/*.csv.gz"] and parsed.cost_column == "BilledCost"
    openai = parse_cli(cli_args(containers(jobs["openai"])[0]))
    assert isinstance(openai, argparse.Namespace)
    assert openai.files == ["/exports/openai/costs-*.json"] and openai.usage == ["/exports/openai/usage.json"]


def test_monitoring_objects() -> None:
    docs = docs_of("all-on")
    monitors = {d["metadata"]["labels"]["app.kubernetes.io/component"] for d in docs if d["kind"] == "ServiceMonitor"}
    assert monitors == {"collector", "worker", "alerter", "api"}
    for d in (d for d in docs if d["kind"] in ("ServiceMonitor", "PrometheusRule")):
        assert d["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    rules = one(docs, "PrometheusRule", "rules")
    exprs = {r["alert"]: r["expr"] for g in rules["spec"]["groups"] for r in g["rules"]}
    # the health the issue asks for: worker lag, dead-letter rate, snapshot age, spool depth, Slack failures
    for alert, metric in (("SpendwatchWorkerLagging", "spendwatch_event_time_lag_seconds"),
                          ("SpendwatchDeadLetterRateHigh", "spendwatch_bad_events_total"),
                          ("SpendwatchSnapshotStale", "spendwatch_snapshot_age_seconds"),
                          ("SpendwatchCollectorSpoolBacklog", "spendwatch_publisher_spooled"),
                          ("SpendwatchSlackDeliveryFailing", "spendwatch_alert_delivery_failures")):
        assert metric in exprs[alert] and 'namespace="spendwatch"' in exprs[alert], alert
    for g in rules["spec"]["groups"]:
        for r in g["rules"]:
            assert r["labels"]["severity"] in ("warning", "critical") and r["annotations"]["summary"], r
    dash = one(docs, "ConfigMap", "dashboard")
    assert dash["metadata"]["labels"]["grafana_dashboard"] == "1"
    board = json.loads(dash["data"]["spendwatch.json"])
    assert board["uid"] == "spendwatch-overview" and len(board["panels"]) > 20
    ext = one(docs_of("external-pg-kafka-sasl"), "ConfigMap", "dashboard")
    assert ext["metadata"]["namespace"] == "monitoring"


def test_default_install_is_the_readme_object_list(summary: list[str]) -> None:
    """The README's `helm install` with the minimal values file: what it creates."""
    _text, docs = template(VALUE_SETS["readme-minimal"], release="spendwatch")
    got = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in docs)
    assert got == sorted([
        "ClusterRole/spendwatch-collector", "ClusterRoleBinding/spendwatch-collector",
        "ConfigMap/spendwatch-config", "DaemonSet/spendwatch-collector",
        "Deployment/spendwatch-alerter", "Deployment/spendwatch-worker",
        "PersistentVolumeClaim/spendwatch-history", "PodDisruptionBudget/spendwatch-worker",
        "Service/spendwatch-alerter", "Service/spendwatch-collector", "Service/spendwatch-worker",
        "ServiceAccount/spendwatch-alerter", "ServiceAccount/spendwatch-collector",
        "ServiceAccount/spendwatch-worker"])
    alerter = one(docs, "Deployment", "alerter")
    assert env_of(containers(alerter)[0])["SPENDWATCH_SLACK_TOKEN_FILE"]["value"].endswith("/slack/token")
    assert env_of(containers(alerter)[0])["SPENDWATCH_KAFKA"]["value"] == "my-kafka-bootstrap.kafka.svc:9092"
    summary.append("readme-minimal objects: " + ", ".join(got))


@pytest.mark.parametrize("name", ["readme-minimal", "all-on"])
def test_install_notes_name_objects_that_exist(name: str, tmp_path: Path) -> None:
    """NOTES.txt (shown after `helm install`) rendered through a copy of the chart, without a cluster."""
    import shutil

    chart = tmp_path / "spendwatch"
    shutil.copytree(CHART, chart)
    (chart / "notes.txt").write_text((chart / "templates" / "NOTES.txt").read_text())
    (chart / "templates" / "zz-notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\ndata:\n  notes: |\n"
        '{{ tpl (.Files.Get "notes.txt") . | indent 4 }}\n')
    r = helm("template", "spendwatch", str(chart), "--namespace", "spendwatch", "--kube-version", KUBE_VERSION,
             *value_args(VALUE_SETS[name]), "--show-only", "templates/zz-notes.yaml")
    notes = yaml.safe_load(r.stdout)["data"]["notes"]
    _text, docs = template(VALUE_SETS[name], release="spendwatch")
    short = {"ds": "DaemonSet", "deploy": "Deployment", "svc": "Service"}
    refs = re.findall(r"\b(ds|deploy|svc)/([a-z0-9-]+)", notes)
    assert refs, notes
    for kind, obj in refs:
        assert any(d["kind"] == short[kind] and d["metadata"]["name"] == obj for d in docs), (kind, obj, notes)
    assert "spendwatch anomalies" in notes
    assert ("port-forward svc/spendwatch-api" in notes) == (name == "all-on")
