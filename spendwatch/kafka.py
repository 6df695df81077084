"""Kafka connection settings shared by the worker (aiokafka/faust) and the collectors (kafka-python).

``kafka`` settings section, with environment overrides for what differs per deployment:

- ``SPENDWATCH_KAFKA``: bootstrap servers (default ``localhost:9092``)
- ``SPENDWATCH_TOPIC_PREFIX``: prepended to every topic name (default empty)
- ``SPENDWATCH_KAFKA_SECURITY_PROTOCOL``: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
- ``SPENDWATCH_KAFKA_SASL_MECHANISM``: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
- ``SPENDWATCH_KAFKA_SASL_USERNAME`` / ``SPENDWATCH_KAFKA_SASL_PASSWORD`` (or ``..._PASSWORD_FILE``)
- ``SPENDWATCH_KAFKA_SSL_CAFILE`` / ``..._SSL_CERTFILE`` / ``..._SSL_KEYFILE``

Managed brokers: Confluent Cloud = SASL_SSL + PLAIN (API key/secret); Amazon MSK = SASL_SSL +
SCRAM-SHA-512 (or SSL with client certificates); Aiven = SSL with CA + client cert/key, or
SASL_SSL + SCRAM-SHA-256. The password is never logged: ``repr`` hides it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from spendwatch.config import Settings
from spendwatch.contract import topic_name
from spendwatch.errors import ConfigError

_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class KafkaConfig:
    """``kafka`` section: where the broker is and how to talk to it."""

    bootstrap_servers: str = "localhost:9092"
    topic_prefix: str = ""
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    client_id: str = "spendwatch"

    def topic(self, event_type: str) -> str:
        """The full topic name for an event type (or ``anomaly`` / ``deadletter``): the contract's
        name (:data:`spendwatch.contract.TOPICS`) with this deployment's prefix."""
        return topic_name(event_type, self.topic_prefix)

    def validate(self) -> KafkaConfig:
        if self.security_protocol not in _PROTOCOLS:
            raise ConfigError(f"kafka.security_protocol: {self.security_protocol!r} is not one of {_PROTOCOLS}")
        if self.security_protocol.startswith("SASL"):
            if self.sasl_mechanism not in _MECHANISMS:
                raise ConfigError(f"kafka.sasl_mechanism: {self.sasl_mechanism!r} is not one of {_MECHANISMS} "
                                  f"(required with {self.security_protocol})")
            if not self.sasl_username or self.sasl_password is None:
                raise ConfigError("kafka: SASL needs sasl_username and sasl_password "
                                  "(SPENDWATCH_KAFKA_SASL_USERNAME / SPENDWATCH_KAFKA_SASL_PASSWORD[_FILE])")
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"kafka.{name}: {path} is not a readable file")
        return self

    def kafka_python_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's KafkaProducer / KafkaConsumer."""
        kw: dict[str, Any] = {"bootstrap_servers": self.bootstrap_servers.split(","),
                              "security_protocol": self.security_protocol, "client_id": self.client_id}
        if self.security_protocol.startswith("SASL"):
            kw.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username,
                      sasl_plain_password=self.sasl_password)
        if self.ssl_cafile:
            kw["ssl_cafile"] = self.ssl_cafile
        if self.ssl_certfile:
            kw["ssl_certfile"] = self.ssl_certfile
        if self.ssl_keyfile:
            kw["ssl_keyfile"] = self.ssl_keyfile
        return kw

    def aiokafka_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's AIOKafkaConsumer / AIOKafkaProducer."""
        kw: dict[str, Any] = {"bootstrap_servers": self.bootstrap_servers,
                              "security_protocol": self.security_protocol, "client_id": self.client_id}
        if self.security_protocol.startswith("SASL"):
            kw.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username,
                      sasl_plain_password=self.sasl_password)
        if self.security_protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            kw["ssl_context"] = create_ssl_context(cafile=self.ssl_cafile, certfile=self.ssl_certfile,
                                                   keyfile=self.ssl_keyfile)
        return kw


def kafka_config(settings: Settings | None = None, environ: Mapping[str, str] | None = None) -> KafkaConfig:
    """The ``kafka`` section with the short environment variables applied on top."""
    env = os.environ if environ is None else environ
    cfg = (settings or Settings()).build(KafkaConfig, "kafka")
    over: dict[str, Any] = {}
    for var, name in (("SPENDWATCH_KAFKA", "bootstrap_servers"), ("SPENDWATCH_TOPIC_PREFIX", "topic_prefix"),
                      ("SPENDWATCH_KAFKA_SECURITY_PROTOCOL", "security_protocol"),
                      ("SPENDWATCH_KAFKA_SASL_MECHANISM", "sasl_mechanism"),
                      ("SPENDWATCH_KAFKA_SASL_USERNAME", "sasl_username"),
                      ("SPENDWATCH_KAFKA_SASL_PASSWORD", "sasl_password"),
                      ("SPENDWATCH_KAFKA_SSL_CAFILE", "ssl_cafile"),
                      ("SPENDWATCH_KAFKA_SSL_CERTFILE", "ssl_certfile"),
                      ("SPENDWATCH_KAFKA_SSL_KEYFILE", "ssl_keyfile")):
        if env.get(var):
            over[name] = env[var]
    pw_file = env.get("SPENDWATCH_KAFKA_SASL_PASSWORD_FILE")
    if pw_file:
        try:
            over["sasl_password"] = Path(pw_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"SPENDWATCH_KAFKA_SASL_PASSWORD_FILE: cannot read {pw_file}: {exc.strerror}") from None
    return replace(cfg, **over).validate()
