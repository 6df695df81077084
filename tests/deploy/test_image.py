"""The Dockerfile against pyproject.toml, the services' default ports and the chart (no Docker engine here)."""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def stages() -> list[list[tuple[str, str]]]:
    """Instructions per build stage, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out: list[list[tuple[str, str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            out.append([])
        if out:
            out[-1].append((word.upper(), " ".join(rest.split())))
    return out


def test_build_stage_copies_and_installs_every_package() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    build, _runtime = stages()
    copied = {src for word, rest in build if word == "COPY" for src in rest.split()[:-1] if not src.startswith("--")}
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages | {"pyproject.toml", "README.md"} <= copied, packages - copied
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert not (packages | {"pyproject.toml", "README.md"}) & ignored
    run = " ".join(rest for word, rest in build if word == "RUN")
    assert "python -m venv /opt/spendwatch" in run and "/opt/spendwatch/bin/pip install --only-binary=:all: ." in run
    assert "spendwatch --version" in run  # the build fails if the entry point does not start


def test_runtime_stage_is_small_non_root_and_runs_every_entry_point() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    _build, runtime = stages()
    base = runtime[0][1]
    assert base == "${PYTHON_IMAGE}"
    arg = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("ARG PYTHON_IMAGE"))
    assert "-slim" in arg and "python:3.11" in arg  # requires-python >= 3.11
    assert project["requires-python"] == ">=3.11"
    words = [w for w, _ in runtime]
    assert "RUN" in words and not any("pip install" in rest for w, rest in runtime if w == "RUN"), \
        "the runtime stage copies the built env; it installs nothing"
    assert ("COPY", "--from=build /opt/spendwatch /opt/spendwatch") in runtime
    env = " ".join(rest for w, rest in runtime if w == "ENV")
    assert "PATH=/opt/spendwatch/bin:$PATH" in env  # every [project.scripts] entry point is on PATH
    assert set(project["scripts"]) == {"spendwatch"}
    user = next(rest for w, rest in reversed(runtime) if w == "USER")
    uid, _, gid = user.partition(":")
    assert uid == gid == "10001"  # numeric, so runAsNonRoot can verify it
    chart = yaml.safe_load((ROOT / "charts" / "spendwatch" / "values.yaml").read_text())
    assert chart["podSecurityContext"]["runAsUser"] == int(uid)
    assert json.loads(next(rest for w, rest in runtime if w == "ENTRYPOINT")) == ["spendwatch"]
    run = " ".join(rest for w, rest in runtime if w == "RUN")
    for d in ("/var/lib/spendwatch", "/var/lib/spendwatch/spool", "/var/lib/spendwatch/state"):
        assert d in run
    assert "install -d -o 10001 -g 10001" in run  # the defaults (spool, ledger, SQLite) are writable


def test_exposed_ports_are_the_services_defaults() -> None:
    from collectors.nvml.run import GpuCollectorConfig
    from spendwatch.cli import build_parser
    from streams.settings import WorkerSettings

    _build, runtime = stages()
    exposed = {int(p) for w, rest in runtime if w == "EXPOSE" for p in rest.split()}
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    alerter = next(a for a in sub.choices["alerter"]._actions if "--metrics-port" in a.option_strings)
    defaults = {GpuCollectorConfig().metrics_port, WorkerSettings().metrics_port, int(alerter.default)}
    serve = int(next(a for a in sub.choices["serve"]._actions if "--port" in a.option_strings).default)
    assert exposed == defaults | {serve}
