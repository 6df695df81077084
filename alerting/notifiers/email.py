"""E-mail through SMTP (:mod:`smtplib`): a post is a mail, an edit or a thread reply a follow-up in its thread.

The route's channel names the recipients: ``email:oncall@corp.example`` (commas for several).
Each root post gets a ``Message-ID`` that is returned as the message's ``ts``; edits ("Updated: …",
with the current state) and replies carry ``In-Reply-To`` / ``References`` to it, so mail clients
thread them. Settings (``alerting.smtp``): ``host``, ``port`` (default 25), ``sender``,
``starttls`` or ``ssl``, ``username``; the password comes from ``SPENDWATCH_SMTP_PASSWORD`` (or
``..._FILE``) and is never logged. A refused or failed send is a :class:`NotifyError` (kept and
retried by the outbox; a refused recipient as permanent).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from alerting.notifiers.base import Notifier, NotifyError
from alerting.render import blocks_to_text, console_text


class EmailNotifier(Notifier):
    """Sends alerts as e-mail through one SMTP server."""

    def __init__(self, host: str, port: int = 25, sender: str = "spendwatch@localhost", username: str | None = None,
                 password: str | None = None, starttls: bool = False, use_ssl: bool = False,
                 timeout_s: float = 15.0) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self._password = username, password
        self.starttls, self.use_ssl, self.timeout_s = starttls, use_ssl, timeout_s
        self._subjects: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"EmailNotifier({self.host!r}, {self.port}, sender={self.sender!r}, password=<hidden>)"

    @staticmethod
    def recipients(channel: str) -> list[str]:
        target = channel.split(":", 1)[1] if channel.startswith("email:") else channel
        return [a.strip() for a in target.split(",") if a.strip()]

    def _send(self, channel: str, subject: str, body: str, refs: str | None) -> str:
        to = self.recipients(channel)
        if not to:
            raise NotifyError(f"e-mail: no recipient in channel {channel!r}", permanent=True)
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, ", ".join(to), subject[:200]
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg_id = make_msgid(domain="spendwatch")
        msg["Message-ID"] = msg_id
        if refs:
            msg["In-Reply-To"], msg["References"] = refs, refs
        msg.set_content(body)
        try:
            smtp: smtplib.SMTP = (smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s,
                                                   context=ssl.create_default_context()) if self.use_ssl
                                  else smtplib.SMTP(self.host, self.port, timeout=self.timeout_s))
            with smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self._password or "")
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise NotifyError(f"e-mail: recipients refused: {', '.join(exc.recipients)}", permanent=True) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise NotifyError(f"e-mail: SMTP login refused ({exc.smtp_code})", permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifyError(f"e-mail via {self.host}:{self.port} failed: {type(exc).__name__}: {exc}") from None
        return msg_id

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None,
             thread_ts: str | None = None) -> str:
        body = blocks_to_text(blocks) if blocks else console_text(text)
        if thread_ts:
            subject = "Re: " + self._subjects.get(thread_ts, "spendwatch alert")
            return self._send(channel, subject, body, thread_ts)
        subject = console_text(text).splitlines()[0] if text else "spendwatch alert"
        msg_id = self._send(channel, subject, body, None)
        self._subjects[msg_id] = subject
        return msg_id

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        body = blocks_to_text(blocks) if blocks else console_text(text)
        subject = "Updated: " + (console_text(text).splitlines()[0] if text else "spendwatch alert")
        self._send(channel, subject, body, ts)
