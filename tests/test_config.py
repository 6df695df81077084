"""Settings: a file plus environment overrides, built into typed sections with clear errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from detectors.base import EngineConfig
from detectors.idle_gpu import IdleConfig
from spendwatch.config import Settings, build, load_settings
from spendwatch.errors import ConfigError
from spendwatch.prices import PriceConfig


@dataclass(frozen=True)
class Nested:
    name: str = "x"
    tags: list[str] = field(default_factory=list)
    limits: dict[str, float] = field(default_factory=dict)
    maybe: int | None = None
    on: bool = False


def _write(tmp_path: Path, text: str, name: str = "spendwatch.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_without_a_file() -> None:
    s = load_settings(None, environ={})
    assert s.build(IdleConfig, "idle") == IdleConfig()
    assert s.source == "<defaults>"


def test_file_values_are_typed_and_ints_become_floats(tmp_path: Path) -> None:
    p = _write(tmp_path, "idle:\n  dwell_s: 900\n  idle_below_pct: 3.5\nengine:\n  tick_interval_s: 30\n")
    s = load_settings(p, environ={})
    idle = s.build(IdleConfig, "idle")
    assert idle.dwell_s == 900.0 and isinstance(idle.dwell_s, float)
    assert idle.idle_below_pct == 3.5
    assert idle.busy_confirm_s == IdleConfig().busy_confirm_s  # untouched keys keep their defaults
    assert s.build(EngineConfig, "engine").tick_interval_s == 30.0


def test_json_files_work_too(tmp_path: Path) -> None:
    p = _write(tmp_path, '{"prices": {"gpu": {"H100": 4.5}, "default_gpu_usd": 1.0}}', "s.json")
    prices = load_settings(p, environ={}).build(PriceConfig, "prices")
    assert prices.gpu == {"H100": 4.5} and prices.default_gpu_usd == 1.0


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    p = _write(tmp_path, "idle:\n  dwell_s: 900\n")
    env = {"SPENDWATCH__IDLE__DWELL_S": "600", "SPENDWATCH__ENGINE__WARNING_DAILY_USD": "75.5",
           "UNRELATED": "1"}
    s = load_settings(p, environ=env)
    assert s.build(IdleConfig, "idle").dwell_s == 600.0
    assert s.build(EngineConfig, "engine").warning_daily_usd == 75.5


def test_environment_alone_without_a_file() -> None:
    s = load_settings(None, environ={"SPENDWATCH__IDLE__HOARD_MEM_PCT": "40"})
    assert s.build(IdleConfig, "idle").hoard_mem_pct == 40.0


def test_unknown_key_names_the_file_section_and_key(tmp_path: Path) -> None:
    p = _write(tmp_path, "idle:\n  dwell_seconds: 900\n")
    with pytest.raises(ConfigError) as err:
        load_settings(p, environ={}).build(IdleConfig, "idle")
    msg = str(err.value)
    assert str(p) in msg and "idle" in msg and "dwell_seconds" in msg
    assert "dwell_s" in msg  # the known keys are listed, so the typo is easy to spot


def test_wrong_type_names_the_file_and_key(tmp_path: Path) -> None:
    p = _write(tmp_path, "idle:\n  dwell_s: twenty minutes\n")
    with pytest.raises(ConfigError) as err:
        load_settings(p, environ={}).build(IdleConfig, "idle")
    msg = str(err.value)
    assert str(p) in msg and "idle.dwell_s" in msg and "expected a number" in msg


def test_wrong_type_from_the_environment_is_an_error_too() -> None:
    s = load_settings(None, environ={"SPENDWATCH__IDLE__DWELL_S": "soon"})
    with pytest.raises(ConfigError, match="idle.dwell_s"):
        s.build(IdleConfig, "idle")


def test_booleans_are_not_numbers(tmp_path: Path) -> None:
    p = _write(tmp_path, "idle:\n  dwell_s: true\n")
    with pytest.raises(ConfigError, match="dwell_s"):
        load_settings(p, environ={}).build(IdleConfig, "idle")


@pytest.mark.parametrize(("text", "match"), [
    ("- just\n- a list\n", "mapping of sections"),
    ("idle: 5\n", "section 'idle' must be a mapping"),
    ("idle: [unclosed\n", "not valid YAML"),
])
def test_malformed_files_name_the_file(tmp_path: Path, text: str, match: str) -> None:
    p = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=match) as err:
        load_settings(p, environ={})
    assert str(p) in str(err.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read settings file"):
        load_settings(tmp_path / "absent.yaml", environ={})


def test_malformed_environment_key() -> None:
    with pytest.raises(ConfigError, match="SPENDWATCH__IDLE"):
        load_settings(None, environ={"SPENDWATCH__IDLE": "1"})


def test_nested_types_lists_dicts_optionals() -> None:
    got = build(Nested, {"name": "a", "tags": ["x", "y"], "limits": {"gpu": 2}, "maybe": None, "on": True})
    assert got == Nested("a", ["x", "y"], {"gpu": 2.0}, None, True)
    with pytest.raises(ConfigError, match=r"s\.tags\[1\]"):
        build(Nested, {"tags": ["x", 3]}, "s")
    with pytest.raises(ConfigError, match=r"s\.limits\.gpu"):
        build(Nested, {"limits": {"gpu": "lots"}}, "s")
    with pytest.raises(ConfigError, match="s.on"):
        build(Nested, {"on": "yes"}, "s")


def test_empty_section_means_defaults(tmp_path: Path) -> None:
    p = _write(tmp_path, "idle:\nengine: {}\n")
    s = load_settings(p, environ={})
    assert s.build(IdleConfig, "idle") == IdleConfig()
    assert Settings().build(EngineConfig, "engine") == EngineConfig()


# ------------------------------------------------------------------------- secrets stay secret
SECRET_LINES = [
    "  sasl_password: *hunter2-s3cret\n",           # an undefined alias: YAML names it in its message
    '  sasl_password: "hunter2-s3cret\n',           # an unclosed quote
    "\tsasl_password: hunter2-s3cret\n",            # a tab
    '  sasl_password: "hunter2-s3cret\\q"\n',       # an unknown escape
    "  sasl_password: hunter2-s3cret: [\n",         # a mapping where none may be
]


@pytest.mark.parametrize("line", SECRET_LINES)
def test_a_yaml_syntax_error_never_shows_a_secret(tmp_path: Path, line: str) -> None:
    p = _write(tmp_path, "kafka:\n  sasl_username: me\n" + line + "  sasl_mechanism: PLAIN\n")
    with pytest.raises(ConfigError) as err:
        load_settings(p, environ={})
    msg = str(err.value)
    assert "hunter2" not in msg and "s3cret" not in msg, msg
    assert str(p) in msg and "line " in msg and "column " in msg


def test_a_yaml_syntax_error_elsewhere_still_says_what_is_wrong(tmp_path: Path) -> None:
    p = _write(tmp_path, "idle:\n  dwell_s: [900\n")
    with pytest.raises(ConfigError, match=r"line \d+, column \d+: .*expected ',' or ']'"):
        load_settings(p, environ={})


@pytest.mark.parametrize("value", ["12345678", "[hunter2, s3cret]", "{pw: hunter2s3cret}", "true"])
def test_a_secret_of_the_wrong_type_is_named_never_shown(tmp_path: Path, value: str) -> None:
    from spendwatch.kafka import KafkaConfig

    p = _write(tmp_path, f"kafka:\n  sasl_password: {value}\n")
    with pytest.raises(ConfigError) as err:
        load_settings(p, environ={}).build(KafkaConfig, "kafka")
    msg = str(err.value)
    assert "kafka.sasl_password" in msg and "value not shown" in msg
    assert "12345678" not in msg and "hunter2" not in msg and "s3cret" not in msg, msg
    env = load_settings(None, environ={"SPENDWATCH__KAFKA__SASL_PASSWORD": value})
    with pytest.raises(ConfigError) as err2:
        env.build(KafkaConfig, "kafka")
    assert "12345678" not in str(err2.value) and "hunter2" not in str(err2.value)


def test_values_of_ordinary_keys_are_still_shown(tmp_path: Path) -> None:
    p = _write(tmp_path, "idle:\n  dwell_s: soon\n")
    with pytest.raises(ConfigError, match="idle.dwell_s: expected a number, got 'soon'"):
        load_settings(p, environ={}).build(IdleConfig, "idle")
