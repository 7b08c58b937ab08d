"""Outgoing mail: a logging mailer for development and an SMTP mailer for delivery."""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Protocol

from shared.config import Environment, Settings, get_settings

logger = logging.getLogger(__name__)

PRODUCT_NAME = "Runtime Traitors"


class MailDeliveryError(RuntimeError):
    """Raised when the mail server could not be reached or refused the message."""


@dataclass(frozen=True, slots=True)
class MailMessage:
    """A plain-text message for one recipient."""

    to: str
    subject: str
    text: str


class Mailer(Protocol):
    """Anything that can deliver a MailMessage."""

    def send(self, message: MailMessage) -> None:
        """Deliver the message or raise MailDeliveryError."""
        ...


class LoggingMailer:
    """Writes mail to the log instead of sending it (development without SMTP)."""

    def __init__(self, *, show_body: bool) -> None:
        # Bodies carry password-reset links: only a developer's own machine may see them.
        self._show_body = show_body

    def send(self, message: MailMessage) -> None:
        """Log the recipient and subject, and the body only when allowed."""
        if self._show_body:
            logger.info(
                "Mail not sent (no SMTP_HOST); to=%s subject=%r\n%s",
                message.to,
                message.subject,
                message.text,
            )
        else:
            logger.info(
                "Mail not sent (no SMTP_HOST); to=%s subject=%r "
                "(body withheld outside development)",
                message.to,
                message.subject,
            )


class SmtpMailer:
    """Delivers mail through an SMTP relay, with STARTTLS and login when configured."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str = "",
        password: str = "",
        starttls: bool = True,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if username and not starttls:
            raise ValueError(
                "SMTP_USER is set but SMTP_STARTTLS is off: refusing to send credentials in clear"
            )
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout
        self._ssl_context = ssl_context

    def send(self, message: MailMessage) -> None:
        """Deliver one message; any network or SMTP failure becomes MailDeliveryError."""
        email = self._compose(message)
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                if self._starttls:
                    smtp.starttls(context=self._ssl_context or ssl.create_default_context())
                if self._username:
                    smtp.login(self._username, self._password)
                smtp.send_message(email)
        except (smtplib.SMTPException, OSError) as exc:
            # Built from the class name and SMTP code only, so no credential or
            # server-echoed text can reach a log line.
            code = getattr(exc, "smtp_code", None)
            detail = f"{type(exc).__name__}" + (f" {code}" if code else "")
            raise MailDeliveryError(
                f"Could not deliver mail via {self._host}:{self._port}: {detail}"
            ) from exc

    def _compose(self, message: MailMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self._sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Date"] = formatdate(localtime=False, usegmt=True)
        # An explicit domain avoids make_msgid's getfqdn(), a DNS lookup that can stall.
        email["Message-ID"] = make_msgid(domain=_domain_of(self._sender))
        email.set_content(message.text, charset="utf-8")
        return email


def _domain_of(address: str) -> str:
    _, email_address = parseaddr(address)
    return email_address.rpartition("@")[2] or "localhost"


def build_mailer(settings: Settings) -> Mailer:
    """The mailer these settings describe: SMTP when SMTP_HOST is set, else the log."""
    if not settings.SMTP_HOST:
        if settings.ENVIRONMENT is not Environment.DEVELOPMENT:
            logger.warning("SMTP_HOST is not set: mail is logged, not delivered")
        return LoggingMailer(show_body=settings.ENVIRONMENT is Environment.DEVELOPMENT)
    return SmtpMailer(
        host=settings.SMTP_HOST,
        port=settings.SMTP_PORT,
        sender=settings.SMTP_FROM,
        username=settings.SMTP_USER,
        password=settings.SMTP_PASSWORD,
        starttls=settings.SMTP_STARTTLS,
        timeout=settings.SMTP_TIMEOUT_SECONDS,
    )


_lock = threading.Lock()
_cached: tuple[Settings, Mailer] | None = None


def get_mailer() -> Mailer:
    """The mailer for the current settings, built once per settings object."""
    global _cached
    settings = get_settings()
    with _lock:
        if _cached is None or _cached[0] is not settings:
            _cached = (settings, build_mailer(settings))
        return _cached[1]


def password_reset_message(*, to: str, reset_url: str, minutes_valid: int) -> MailMessage:
    """The mail that carries a password-reset link."""
    text = (
        "Hello,\n"
        "\n"
        f"Someone (hopefully you) asked to reset the password of your {PRODUCT_NAME} account.\n"
        "Open this link to choose a new password:\n"
        "\n"
        f"{reset_url}\n"
        "\n"
        f"The link works once and expires in {minutes_valid} minutes.\n"
        "If you did not ask for this, you can ignore this mail: your password stays as it is.\n"
        "\n"
        f"The {PRODUCT_NAME} team\n"
    )
    return MailMessage(to=to, subject=f"Reset your {PRODUCT_NAME} password", text=text)
