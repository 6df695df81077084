"""Pinned tools for the deploy tests, built once with Go into the user's cache (never into the repo).

- ``helm`` v3.22.0: ``go install helm.sh/helm/v3/cmd/helm@v3.22.0`` with GOBIN under
  ``${XDG_CACHE_HOME:-~/.cache}/spendwatch/helm-v3.22.0`` (``SPENDWATCH_HELM`` names another binary).
- ``promqlcheck`` (tests/deploy/promqlcheck): Prometheus's own PromQL parser, to read metric names
  out of the rules and the dashboard.
- ``kubecheck`` (tests/deploy/kubecheck): strict decoding of rendered manifests into the Kubernetes
  API's Go types (and the Prometheus Operator's), so an unknown field or a wrong type fails.

Without Go (and no cached binary) the tests that need them skip with a message saying so.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "spendwatch"
HELM_VERSION = "v3.22.0"
KUBE_VERSION = "1.30.0"  # helm built by `go install` defaults to v1.20 (no ldflags); say what we target
HERE = Path(__file__).resolve().parent
BUILD_TIMEOUT_S = 900


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "spendwatch"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build at a time across test processes sharing the cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        pytest.skip("deploy tests need Go to build their pinned tools (helm, promqlcheck, kubecheck) once; `go` is "
                    "not on PATH (install Go, or set SPENDWATCH_HELM to a helm 3.22 binary for the helm part)")
    return go


def _run_build(cmd: Sequence[str], cwd: Path | None, env: dict[str, str], what: str) -> None:
    try:
        r = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"building {what} took more than {BUILD_TIMEOUT_S}s: {' '.join(cmd)}")
    if r.returncode != 0:
        pytest.fail(f"building {what} failed ({' '.join(cmd)}, exit {r.returncode}):\n{r.stderr[-3000:]}")


def helm_binary() -> str:
    given = os.environ.get("SPENDWATCH_HELM")
    if given:
        return given
    gobin = cache_dir() / f"helm-{HELM_VERSION}"
    exe = gobin / "helm"
    if not exe.exists():
        go = _go()
        with _locked(cache_dir() / f".helm-{HELM_VERSION}.lock"):
            if not exe.exists():
                env = {**os.environ, "GOBIN": str(gobin), "CGO_ENABLED": "0"}
                _run_build([go, "install", f"helm.sh/helm/v3/cmd/helm@{HELM_VERSION}"], None, env,
                           f"helm {HELM_VERSION}")
    return str(exe)


def go_tool(name: str) -> str:
    """The Go program in tests/deploy/<name>, built once per source version into the cache."""
    src = HERE / name
    digest = hashlib.sha256(b"".join((src / f).read_bytes() for f in ("go.mod", "go.sum", "main.go"))).hexdigest()
    exe = cache_dir() / f"{name}-{digest[:12]}" / name
    if not exe.exists():
        go = _go()
        with _locked(cache_dir() / f".{name}.lock"):
            if not exe.exists():
                env = {**os.environ, "CGO_ENABLED": "0"}
                _run_build([go, "build", "-o", str(exe), "."], src, env, name)
    return str(exe)


def parse_promql(exprs: Sequence[str]) -> list[dict[str, Any]]:
    """Prometheus's parser on each expression: ``{"expr", "error"?, "metrics"}``."""
    r = subprocess.run([go_tool("promqlcheck")], input=json.dumps(list(exprs)), capture_output=True, text=True,
                       timeout=60, check=True)
    out: list[dict[str, Any]] = json.loads(r.stdout)
    return out


def kube_decode(manifests: str) -> list[dict[str, str]]:
    """Each document strictly decoded into its API type: ``{"kind", "name", "error"?}``."""
    r = subprocess.run([go_tool("kubecheck")], input=manifests, capture_output=True, text=True, timeout=60,
                       check=True)
    out: list[dict[str, str]] = json.loads(r.stdout)
    return out


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([helm_binary(), *args], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "HELM_CACHE_HOME": str(cache_dir() / "helm-home" / "cache"),
                            "HELM_CONFIG_HOME": str(cache_dir() / "helm-home" / "config"),
                            "HELM_DATA_HOME": str(cache_dir() / "helm-home" / "data")})
    if check and r.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} exited {r.returncode}:\n{r.stderr}")
    return r


def value_args(values: Sequence[Path], sets: Sequence[str] = ()) -> list[str]:
    args: list[str] = []
    for v in values:
        args += ["-f", str(v)]
    for s in sets:
        args += ["--set", s]
    return args


def template(values: Sequence[Path] = (), sets: Sequence[str] = (), release: str = "sw",
             namespace: str = "spendwatch") -> tuple[str, list[dict[str, Any]]]:
    """``helm template`` output and its parsed documents (every one must parse as YAML)."""
    r = helm("template", release, str(CHART), "--namespace", namespace, "--kube-version", KUBE_VERSION,
             *value_args(values, sets))
    docs = [d for d in yaml.safe_load_all(r.stdout) if d is not None]
    return r.stdout, docs
