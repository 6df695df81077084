"""Notifiers: the adapters that talk to people (Slack, or the console when Slack is not set up)."""

from alerting.notifiers.base import Notifier, NotifyError
from alerting.notifiers.console import ConsoleNotifier
from alerting.notifiers.slack import SlackNotifier

__all__ = ["ConsoleNotifier", "Notifier", "NotifyError", "SlackNotifier"]
