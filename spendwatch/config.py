"""Settings, built once at the process edge (a YAML/JSON file plus the environment).

A settings file is a mapping of sections; each component reads its own section into a typed
dataclass with :func:`build`. Unknown keys and wrong types are a :class:`ConfigError` naming
the file and key, so a typo never silently falls back to a default.

Secrets: an error never echoes the value of a key that looks secret (:func:`looks_secret`: a
password, token, secret, key, credential ...), only its type, and a file with a YAML syntax error
is reported by line and column, without the line itself.

Environment overrides: ``SPENDWATCH__<SECTION>__<KEY>=value`` (value parsed as YAML), e.g.
``SPENDWATCH__IDLE__DWELL_S=900``; an error about such a value names the variable, not the file.
Given the ``known`` sections (the command line passes them), an unknown section in the file or
in a variable is an error rather than silently ignored.

Ranges: a number whose name ends in ``_s`` (a duration) is at least 0, one ending in ``_pct`` at
least 0, and one ending in ``_pct`` that is a share of a GPU or of time (:data:`SHARE_WORDS` in its
name, e.g. ``idle_below_pct``) at most 100. A few common ones have short names: ``SPENDWATCH_KAFKA``
(broker bootstrap servers), ``SPENDWATCH_DB`` (history store URL), ``SPENDWATCH_TOPIC_PREFIX``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from collections.abc import Collection, Mapping
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
    """The parsed settings: raw sections plus where they came from (for error messages).

    ``from_env`` maps section -> key -> the ``SPENDWATCH__<SECTION>__<KEY>`` variable that set it."""

    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str = "<defaults>"
    from_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def section(self, name: str) -> Mapping[str, Any]:
        value = self.sections.get(name, {})
        return value if value is not None else {}

    def build(self, cls: type[T], name: str) -> T:
        """The typed dataclass ``cls`` for section ``name`` (defaults for what is not set)."""
        env = {k: f"environment {var} ({name}.{k})" for k, var in self.from_env.get(name, {}).items()}
        return build(cls, self.section(name), f"{self.source}: {name}", env)


def load_settings(path: str | os.PathLike[str] | None = None,
                  environ: Mapping[str, str] | None = None, known: Collection[str] | None = None) -> Settings:
    """Read the settings file (if any) and apply environment overrides.

    ``known``: the section names there are; another one, in the file or in a variable, is a
    :class:`ConfigError` (None: any section is kept, for a library that reads only its own)."""
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
            if known is not None and str(name) not in known:
                raise ConfigError(f"{p}: unknown section {name!r}{_did_you_mean(str(name), known)}; "
                                  f"known: {', '.join(sorted(known))}")
            sections[str(name)] = dict(value or {})
    from_env: dict[str, dict[str, str]] = {}
    for key, raw in env.items():
        if not key.startswith("SPENDWATCH__"):
            continue
        parts = key[len("SPENDWATCH__"):].lower().split("__")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"environment {key}: expected SPENDWATCH__<SECTION>__<KEY>")
        if known is not None and parts[0] not in known:
            raise ConfigError(f"environment {key}: unknown section {parts[0]!r}"
                              f"{_did_you_mean(parts[0], known)}; known: {', '.join(sorted(known))}")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        sections.setdefault(parts[0], {})[parts[1]] = value
        from_env.setdefault(parts[0], {})[parts[1]] = key
    return Settings(sections=sections, source=source, from_env=from_env)


def _did_you_mean(name: str, known: Collection[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# a ``*_pct`` setting with one of these words in its name is a share (of a GPU, of time, of memory): 0-100
SHARE_WORDS = ("below", "share", "mem", "target", "peak", "idle", "quiet", "trough", "busy", "util")


def check_range(name: str, value: Any, where: str) -> None:
    """Durations (``*_s``) and percentages (``*_pct``) at least 0; shares (``*_pct``, :data:`SHARE_WORDS`) at most 100.

    >>> check_range("dwell_s", 900.0, "idle.dwell_s")
    >>> check_range("idle_below_pct", 250, "idle.idle_below_pct")
    Traceback (most recent call last):
    ...
    spendwatch.errors.ConfigError: idle.idle_below_pct: a percentage of at most 100, got 250
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if name.endswith("_s") and value < 0:
        raise ConfigError(f"{where}: a duration in seconds, at least 0, got {value!r}")
    if name.endswith("_pct"):
        if value < 0:
            raise ConfigError(f"{where}: a percentage of at least 0, got {value!r}")
        if value > 100 and any(w in name for w in SHARE_WORDS):
            raise ConfigError(f"{where}: a percentage of at most 100, got {value!r}")


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


def build(cls: type[T], mapping: Mapping[str, Any] | None, where: str = "settings",
          key_where: Mapping[str, str] | None = None) -> T:
    """Build dataclass ``cls`` from a mapping, checking keys, types and ranges (:func:`check_range`).

    ``key_where``: for a key set elsewhere than ``where`` (an environment variable), what to name
    in an error about it."""
    if not (dataclasses.is_dataclass(cls) and isinstance(cls, type)):
        raise TypeError(f"{cls!r} is not a dataclass")
    mapping = mapping or {}
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {_show(mapping, where)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    key_where = key_where or {}
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        hint = _did_you_mean(str(unknown[0]), list(fields)) if len(unknown) == 1 else ""
        from_env = [k for k in unknown if k in key_where]
        if from_env:  # name the variable, not the file
            raise ConfigError(f"{key_where[from_env[0]]}: unknown setting"
                              f"{_did_you_mean(str(from_env[0]), list(fields))}; known: {', '.join(sorted(fields))}")
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(map(str, unknown))}{hint}; "
                          f"known: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, value in mapping.items():
        at = key_where.get(name) or f"{where}.{name}"
        kwargs[name] = _check_type(value, hints[name], at)
        check_range(name, kwargs[name], at)
    return cls(**kwargs)
