"""The house rules of the tree, checked on the source (a small AST check, no import-linter).

- ``spendwatch/`` is the ground floor: outside ``spendwatch/cli/`` (the command line, which
  composes everything) it imports none of ``streams``, ``detectors``, ``collectors``,
  ``alerting``. The one exception is ``spendwatch/client.py``, the documented re-export that
  keeps ``from spendwatch.client import SpendwatchClient`` working (the SDK is ``collectors.sdk``).
- The alert pipeline never reads the environment: no module of ``alerting/`` touches
  ``os.environ`` / ``os.getenv`` (the command line reads it, :mod:`alerting.environment` parses
  what it is given).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UPPER_FLOORS = ("streams", "detectors", "collectors", "alerting")
ALLOWED = {Path("spendwatch/client.py"): {"collectors.sdk"}}


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module an AST imports (also inside functions), with its line."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def _core_modules() -> list[Path]:
    return sorted(p.relative_to(ROOT) for p in (ROOT / "spendwatch").rglob("*.py")
                  if "cli" not in p.relative_to(ROOT / "spendwatch").parts[:1])


@pytest.mark.parametrize("module", _core_modules(), ids=str)
def test_the_core_imports_no_upper_floor(module: Path) -> None:
    bad = [f"{module}:{line}: imports {name}" for line, name in _imports(ROOT / module)
           if name.split(".")[0] in UPPER_FLOORS and name not in ALLOWED.get(module, set())]
    assert not bad, "spendwatch/ (outside cli/) must not import streams, detectors, collectors or alerting:\n" \
                    + "\n".join(bad)


def test_the_check_sees_what_it_should() -> None:
    # not vacuous: the command line does import the upper floors, and the shim is the one exception
    cli = {name.split(".")[0] for p in (ROOT / "spendwatch" / "cli").glob("*.py") for _l, name in _imports(p)}
    assert set(UPPER_FLOORS) <= cli
    assert len(_core_modules()) > 10
    assert [name for _l, name in _imports(ROOT / "spendwatch" / "client.py")] == ["collectors.sdk"]


def test_the_client_shim_is_the_sdk() -> None:
    from collectors.sdk import SpendwatchClient as Sdk
    from spendwatch.client import SpendwatchClient

    assert SpendwatchClient is Sdk


def test_alerting_never_reads_the_environment() -> None:
    offenders = []
    for path in sorted((ROOT / "alerting").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and \
                    isinstance(node.value, ast.Name) and node.value.id == "os":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: os.{node.attr}")
    assert not offenders, offenders
