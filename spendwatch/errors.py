"""The exception tree of spendwatch.

    SpendwatchError            root: catch this to catch anything spendwatch raises on purpose
    ├── ConfigError            a setting is missing or wrong; the message names the file and key
    ├── BadEvent               an input event violates the contract; `reason` says what and where
    └── ExternalError          an external system (Kafka, Slack, database, NVML) failed
"""

from __future__ import annotations


class SpendwatchError(Exception):
    """Root of every exception spendwatch raises on purpose."""


class ConfigError(SpendwatchError):
    """A setting is missing or invalid."""


class BadEvent(SpendwatchError):
    """An input value is not a valid contract event.

    ``reason`` is a one-line explanation naming the offending field.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ExternalError(SpendwatchError):
    """An external system failed in a way the caller should hear about."""
