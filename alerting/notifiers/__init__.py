"""Notifiers: the adapters that talk to people (Slack, or the console when Slack is not set up), plus a
signed JSON webhook and e-mail (SMTP), picked per route channel by :class:`FanoutNotifier`."""

from alerting.notifiers.base import Notifier, NotifyError
from alerting.notifiers.console import ConsoleNotifier
from alerting.notifiers.email import EmailNotifier
from alerting.notifiers.fanout import FanoutNotifier
from alerting.notifiers.slack import SlackNotifier
from alerting.notifiers.webhook import WebhookNotifier

__all__ = ["ConsoleNotifier", "EmailNotifier", "FanoutNotifier", "Notifier", "NotifyError", "SlackNotifier",
           "WebhookNotifier"]
