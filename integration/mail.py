"""Alert email by SMTP, in the appliance's subject formats, held back an hour per device and alert type.

Subjects (docs/datto-facts.md §4), with a device alert's device name where the agent goes:

    CRITICAL ERROR for -agenthostname on -devicehostname (-sn)
    Warning for -agenthostname on -devicehostname (-sn)
    Bootable Screenshot for -agenthostname on -devicehostname (-sn) -shot

Email is at least once: a process killed between the SMTP send and recording it sends that email
again after the restart. The Message-ID is derived from the event, so a mail system (or a reader)
can tell the copy from a new alert.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import smtplib
import threading
from email.message import EmailMessage, Message
from email.mime.text import MIMEText
from email.utils import format_datetime, parseaddr

from .alerts import Alert
from .holdback import EmailHoldback
from .settings import SmtpSettings

__all__ = ["AlertMailer", "MailFailed", "alert_message", "alert_subject"]

log = logging.getLogger("cwsim.integration.mail")

CRITICAL = "CRITICAL ERROR for {agent} on {device} ({sn})"
WARNING = "Warning for {agent} on {device} ({sn})"
SCREENSHOT = "Bootable Screenshot for {agent} on {device} ({sn}) {shot}"
SENT, HELD_BACK, FAILED, UNWANTED = "sent", "held_back", "failed", "unwanted"  # unwanted: not routed to email


class MailFailed(Exception):
    """The email could not be sent; `permanent` when sending it again would fail the same way."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def alert_subject(alert: Alert) -> str:
    words = {"agent": alert.asset_name or alert.device_name, "device": alert.device_name, "sn": alert.serial}
    if alert.category == "screenshot":
        return SCREENSHOT.format(shot="failed", **words)
    return (CRITICAL if alert.severity == "critical" else WARNING).format(**words)


def alert_message(alert: Alert, sender: str) -> Message:
    """The alert's email: plain UTF-8 text.

    Built with the email package's compat32 classes: EmailMessage parses every header it is
    given, which made the email the dearest part of an alert's first delivery. An address or a
    display name beyond ASCII needs EmailMessage's encoding (and SMTPUTF8), so it gets that.
    """
    if not all(address.isascii() for address in (sender, *alert.recipients)):
        message: Message = EmailMessage()
        message.set_content(alert.description() + "\n")
    else:
        message = MIMEText(alert.description() + "\n", "plain", "utf-8")
    message["From"] = sender
    message["To"] = ", ".join(alert.recipients)
    message["Subject"] = alert_subject(alert)
    message["Date"] = format_datetime(alert.moment)
    message["Message-ID"] = f"<{hashlib.sha256(alert.event_id.encode()).hexdigest()[:32]}@cwsim-integration>"
    message["X-Datto-Alert-Key"] = alert.key
    return message


class AlertMailer:
    """Sends alert email over one SMTP connection per thread, after asking the hold-back."""

    def __init__(self, settings: SmtpSettings, holdback: EmailHoldback) -> None:
        self.settings = settings
        self.holdback = holdback
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[smtplib.SMTP] = []

    def send(self, alert: Alert, delivery_id: int) -> str:
        """`sent` or `held_back`; raises MailFailed (transient or permanent)."""
        if not self.holdback.reserve(alert.serial, alert.alert_type, alert.moment, delivery_id):
            return HELD_BACK
        message = alert_message(alert, self.settings.sender)
        try:
            refused = self._send(message, alert.recipients)
        except smtplib.SMTPRecipientsRefused as error:
            raise MailFailed(f"every recipient was refused: {sorted(error.recipients)}", permanent=True) from error
        except smtplib.SMTPResponseException as error:
            self._drop_connection()
            permanent = 500 <= error.smtp_code < 600
            raise MailFailed(f"SMTP {error.smtp_code}: {error.smtp_error!r}", permanent=permanent) from error
        except (OSError, smtplib.SMTPException) as error:
            self._drop_connection()
            raise MailFailed(f"{type(error).__name__}: {error}", permanent=False) from error
        if refused:
            log.warning("alert %s: the SMTP server refused %s", alert.event_id, sorted(refused))
        return SENT

    def _send(self, message: Message, recipients: list[str]) -> dict[str, tuple[int, bytes]]:
        connection = getattr(self._local, "smtp", None)
        if connection is not None:
            try:
                return connection.send_message(message, parseaddr(self.settings.sender)[1], recipients)
            except smtplib.SMTPServerDisconnected:
                self._drop_connection()  # an idle connection the server closed: one fresh try
        return self._connect().send_message(message, parseaddr(self.settings.sender)[1], recipients)

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        connection = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
        if settings.starttls:
            connection.starttls()
        if settings.username:
            connection.login(settings.username, settings.password.reveal())
        self._local.smtp = connection
        with self._lock:
            self._connections.append(connection)
        return connection

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "smtp", None)
        self._local.smtp = None
        if connection is not None:
            with self._lock:
                if connection in self._connections:
                    self._connections.remove(connection)
            with contextlib.suppress(OSError):
                connection.close()

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            try:
                connection.quit()
            except (OSError, smtplib.SMTPException):
                connection.close()
