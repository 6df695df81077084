"""Settings, built once at the process edge (a YAML/JSON file plus the environment).

A settings file is a mapping of sections; each component reads its own section into a typed
dataclass with :func:`build`. Unknown keys and wrong types are a :class:`ConfigError` naming
the file and key, so a typo never silently falls back to a default.

Secrets: an error never echoes the value of a key that looks secret (:func:`looks_secret`: a
password, token, secret, key, credential ...), only its type, and a file with a YAML syntax error
is reported by line and column, without the line itself.

Environment overrides: ``SPENDWATCH__<SECTION>__<KEY>=value`` (value parsed as YAML), e.g.
``SPENDWATCH__IDLE__DWELL_S=900``. A few common ones have short names: ``SPENDWATCH_KAFKA``
(broker bootstrap servers), ``SPENDWATCH_DB`` (history store URL), ``SPENDWATCH_TOPIC_PREFIX``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from spendwatch.errors import ConfigError

T = TypeVar("T")

_SECRET = re.compile(r"pass|secret|token|key|credential|auth|cert|private|dsn|cookie", re.IGNORECASE)


def looks_secret(name: str) -> bool:
    """Whether a setting's name looks like it holds a secret (its value is never shown).

    >>> looks_secret("sasl_password"), looks_secret("SLACK_TOKEN"), looks_secret("dwell_s")
    (True, True, False)
    """
    return bool(_SECRET.search(name))


def _show(value: Any, where: str) -> str:
    """``value`` for a message about the setting at ``where``; only its type when the key looks secret."""
    key = [part for part in re.split(r"[.:\[\]\s]+", where) if part]
    if key and looks_secret(key[-1]):
        return f"a {type(value).__name__} (value not shown: {key[-1]} looks secret)"
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _yaml_error(path: Path, text: str, exc: yaml.YAMLError) -> str:
    """Where a file is not valid YAML, without its lines: one may hold a password."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is None:
        return f"{path}: not valid YAML/JSON ({type(exc).__name__})"
    where = f"{path}: not valid YAML/JSON at line {mark.line + 1}, column {mark.column + 1}"
    lines = text.splitlines()
    marked = {m.line for m in (getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)) if m}
    if any(0 <= n < len(lines) and looks_secret(lines[n].split(":", 1)[0]) for n in marked):
        return f"{where} (details not shown: that line sets a secret)"
    problem = "; ".join(str(x) for x in (getattr(exc, "context", None), getattr(exc, "problem", None)) if x)
    return f"{where}: {problem}" if problem else where


@dataclass(frozen=True)
class Settings:
    """The parsed settings: raw sections plus where they came from (for error messages)."""

    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str = "<defaults>"

    def section(self, name: str) -> Mapping[str, Any]:
        value = self.sections.get(name, {})
        return value if value is not None else {}

    def build(self, cls: type[T], name: str) -> T:
        """The typed dataclass ``cls`` for section ``name`` (defaults for what is not set)."""
        return build(cls, self.section(name), f"{self.source}: {name}")


def load_settings(path: str | os.PathLike[str] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings file (if any) and apply environment overrides."""
    env = os.environ if environ is None else environ
    sections: dict[str, dict[str, Any]] = {}
    source = "<defaults>"
    if path is not None:
        p = Path(path)
        source = str(p)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read settings file {p}: {exc.strerror}") from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(_yaml_error(p, text, exc)) from None
        if not isinstance(data, dict):
            raise ConfigError(f"{p}: expected a mapping of sections at the top level")
        for name, value in data.items():
            if value is not None and not isinstance(value, dict):
                raise ConfigError(f"{p}: section {name!r} must be a mapping")
            sections[str(name)] = dict(value or {})
    for key, raw in env.items():
        if not key.startswith("SPENDWATCH__"):
            continue
        parts = key[len("SPENDWATCH__"):].lower().split("__")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"environment {key}: expected SPENDWATCH__<SECTION>__<KEY>")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        sections.setdefault(parts[0], {})[parts[1]] = value
    return Settings(sections=sections, source=source)


def _check_type(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_type(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: unexpected value {_show(value, where)}")
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {_show(value, where)}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {_show(value, where)}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {_show(value, where)}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {_show(value, where)}")
        return value
    if origin in (dict, Mapping):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {_show(value, where)}")
        kt, vt = typing.get_args(tp) or (Any, Any)
        return {_check_type(k, kt, where): _check_type(v, vt, f"{where}.{k}") for k, v in value.items()}
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {_show(value, where)}")
        (it, *_rest) = typing.get_args(tp) or (Any,)
        items = [_check_type(v, it, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):
            return value
        return build(tp, value, where)
    return value


def build(cls: type[T], mapping: Mapping[str, Any] | None, where: str = "settings") -> T:
    """Build dataclass ``cls`` from a mapping, checking keys and types."""
    if not (dataclasses.is_dataclass(cls) and isinstance(cls, type)):
        raise TypeError(f"{cls!r} is not a dataclass")
    mapping = mapping or {}
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {_show(mapping, where)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(map(str, unknown))}; "
                          f"known: {', '.join(sorted(fields))}")
    kwargs = {name: _check_type(value, hints[name], f"{where}.{name}") for name, value in mapping.items()}
    return cls(**kwargs)
